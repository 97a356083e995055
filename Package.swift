// swift-tools-version: 6.2
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
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // The C module: libzmq from Debian's libzmq3-dev, found through pkg-config.
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        // CRC-32C on the CPU's instructions (SSE4.2, ARMv8 CRC32), chosen at run time.
        .target(name: "CChecksum"),
        // The only Swift code that touches libzmq.
        .target(
            name: "ZeroMQ",
            dependencies: ["CZeroMQ"],
            swiftSettings: strictSettings
        ),
        // The domain: events, dates, countries, article reader, codecs, aggregation. No I/O.
        .target(
            name: "Timeline",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // Files, configuration and the daemons: everything with I/O that is not argument parsing.
        .target(
            name: "TimelinePipeline",
            dependencies: [
                "Timeline",
                "ZeroMQ",
                "CChecksum",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // HTTP beside the daemons (Hummingbird): `GET /metrics` in the Prometheus text format.
        .target(
            name: "TimelineHTTP",
            dependencies: [
                "TimelinePipeline",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "TimelineCLI",
            dependencies: [
                "Timeline",
                "TimelinePipeline",
                "TimelineHTTP",
                "ZeroMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // The invariants the fuzz targets check, and their two ways of running: under libFuzzer
        // and over files. FuzzRegressionTests replays the corpora through the same checks.
        .target(
            name: "FuzzChecks",
            dependencies: ["Timeline"],
            swiftSettings: strictSettings
        ),
        // libFuzzer targets (built with -sanitize=fuzzer -DFUZZING by Scripts/fuzz); without FUZZING
        // they are plain programs that run their checks over the files named on the command line.
        .executableTarget(
            name: "FuzzWireDecoder",
            dependencies: ["FuzzChecks"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "FuzzControlProtocol",
            dependencies: ["FuzzChecks"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "FuzzArticleReader",
            dependencies: ["FuzzChecks", "Timeline"],
            swiftSettings: strictSettings
        ),
        // Throughput of CRC-32C on the CPU's instructions against the Swift tables (release build).
        .executableTarget(
            name: "CRC32CBenchmark",
            dependencies: ["TimelinePipeline"],
            path: "Benchmarks/crc32c",
            swiftSettings: strictSettings
        ),
        // The event log's start-up and replay seek on a large log against a small one (release build).
        .executableTarget(
            name: "LogBenchmark",
            dependencies: ["TimelinePipeline", "Timeline", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/log",
            swiftSettings: strictSettings
        ),
        // The aggregator's work per replayed event without sockets: header, summary, apply (release build).
        .executableTarget(
            name: "ReplayBenchmark",
            dependencies: ["TimelinePipeline", "Timeline"],
            path: "Benchmarks/replay",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ZeroMQTests",
            dependencies: ["ZeroMQ", "CZeroMQ"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TimelineTests",
            dependencies: ["Timeline", "TimelinePipeline", "FuzzChecks"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TimelinePipelineTests",
            dependencies: ["TimelinePipeline", "Timeline", "ZeroMQ"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TimelineHTTPTests",
            dependencies: [
                "TimelineHTTP",
                "TimelinePipeline",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
