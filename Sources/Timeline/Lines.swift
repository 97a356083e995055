/// Splits text into lines as files end them, LF or CRLF. Swift treats "\r\n" as one Character, so
/// splitting on "\n" alone would leave a CRLF file as a single line. Other Unicode line separators
/// (U+2028, form feed…) are text, not line ends: JSON allows U+2028 inside strings.
enum Lines {
    static func split(_ text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
    }
}
