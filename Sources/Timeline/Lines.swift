/// Splits text into lines as files end them, LF or CRLF. Swift treats "\r\n" as one Character, so
/// splitting on "\n" alone would leave a CRLF file as a single line. Other Unicode line separators
/// (U+2028, form feed…) are text, not line ends: JSON allows U+2028 inside strings.
enum Lines {
    /// The lines of `text`, without their ends; the text after the last line end is a line too
    /// (empty when the text ends with one). Works on the UTF-8 bytes: a line end is an LF byte,
    /// with the CR before it when there is one, and neither byte occurs inside another character.
    static func split(_ text: String) -> [Substring] {
        var text = text
        text.makeContiguousUTF8()
        let bounds: [Range<Int>] = text.utf8.withContiguousStorageIfAvailable { bytes in
            var bounds: [Range<Int>] = []
            var start = 0
            var position = 0
            while position < bytes.count {
                if bytes[position] == 0x0A {
                    let end = position > start && bytes[position - 1] == 0x0D ? position - 1 : position
                    bounds.append(start..<end)
                    start = position + 1
                }
                position += 1
            }
            bounds.append(start..<bytes.count)
            return bounds
        } ?? []
        let utf8 = text.utf8
        return bounds.map { text[utf8.index(utf8.startIndex, offsetBy: $0.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: $0.upperBound)] }
    }
}
