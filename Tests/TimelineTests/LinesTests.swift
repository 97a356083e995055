import Testing
@testable import Timeline

@Suite("Splitting text into lines")
struct LinesTests {
    /// What the split must give: Swift's own split on Characters, where "\r\n" is one Character.
    static func byCharacters(_ text: String) -> [String] {
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
    }

    @Test("LF and CRLF end lines; a lone CR, U+2028 and form feed are text; empty lines and a last line without an end are kept",
          arguments: [
              "", "\n", "\r\n", "a", "a\n", "a\r\nb", "a\rb\n", "\r\r\n", "a\n\nb\r\n\r\n", "x\u{2028}y\nz", "form\u{0C}feed\n",
              "Hà Nội\r\nУлаанбаатар\n평양", "é\n\u{301}accent", "\n\n\n", "last line",
          ])
    func matchesCharacters(_ text: String) {
        #expect(Lines.split(text).map(String.init) == LinesTests.byCharacters(text))
    }

    @Test("A text that is not contiguous UTF-8 (bridged or built from pieces) splits the same")
    func builtText() {
        var text = ""
        for index in 0..<1_000 { text += "line \(index)\(index % 3 == 0 ? "\r\n" : "\n")" }
        #expect(Lines.split(text).map(String.init) == LinesTests.byCharacters(text))
        #expect(Lines.split(text).count == 1_001)
    }
}
