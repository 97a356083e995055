extension PipelineConfiguration {
    /// `log.format`, checked: `text` or `json`.
    public func logFormat() throws -> LogFormat {
        let text = try string("log.format")
        guard let format = LogFormat(rawValue: text) else {
            throw ConfigurationError(file: origin(of: "log.format"), key: "log.format",
                                     reason: "'\(text)' is not a log format: text (for people, the default) or json (one object a line, for log shippers)")
        }
        return format
    }
}
