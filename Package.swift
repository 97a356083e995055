// swift-tools-version: 6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "timeline",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "timeline", targets: ["TimelineCLI"]),
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "Timeline", targets: ["Timeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The C module: libzmq from Debian's libzmq3-dev, found through pkg-config.
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        // The only Swift code that touches libzmq.
        .target(
            name: "ZeroMQ",
            dependencies: ["CZeroMQ"],
            swiftSettings: strictSettings
        ),
        // The domain: events, dates, countries, article reader, codecs, aggregation. No I/O.
        .target(
            name: "Timeline",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "TimelineCLI",
            dependencies: [
                "Timeline",
                "ZeroMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ZeroMQTests",
            dependencies: ["ZeroMQ"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TimelineTests",
            dependencies: ["Timeline"],
            swiftSettings: strictSettings
        ),
    ]
)
