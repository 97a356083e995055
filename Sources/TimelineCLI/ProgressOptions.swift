import ArgumentParser
import Logging
import TimelinePipeline

/// `--no-progress`, for the commands that show the progress of long work on standard error.
struct ProgressOptions: ParsableArguments {
    @Flag(help: "No progress bar on a terminal, nor progress lines in the log elsewhere (also TIMELINE_PROGRESS=0).")
    var noProgress = false

    /// A bar on a terminal; elsewhere a log line every 5 s through `logger`, or nothing without one.
    func display(logger: Logger?) -> ProgressDisplay {
        ProgressDisplay.standardError(enabled: !noProgress, logger: logger)
    }
}
