import ArgumentParser

@main
struct TimelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline",
        abstract: "An event pipeline over ZeroMQ for timelines of diplomatic relations.",
        subcommands: [DemoCommand.self, BrokerCommand.self, ProduceCommand.self, AggregateCommand.self, SnapshotCommand.self,
                      MonitorCommand.self, DashboardCommand.self, ReportCommand.self, AtCommand.self, StatusCommand.self, Ingest.self, KeysCommand.self]
    )
}
