import ArgumentParser

@main
struct TimelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline",
        abstract: "An event pipeline over ZeroMQ for timelines of diplomatic relations.",
        subcommands: [Ingest.self]
    )
}
