/// Inline wikitext as the text a reader sees: links as their labels, templates that show text as
/// that text (flags as country names, date templates as dates), every other template, tags,
/// bold and italics removed, HTML entities decoded. `<br>` and list templates separate parts.
///
/// Brackets are matched in one pass before anything is rendered, so unbalanced markup is left as
/// text and no input takes more than linear time per level of nesting.
struct WikitextMarkup: Sendable {
    let gazetteer: Gazetteer

    /// Inline text once rendered.
    struct Text: Equatable {
        /// The text's parts, split where `<br>` or a list template breaks it; blanks collapsed, none empty.
        var parts: [String]
        /// The countries that flag templates in the text name (`{{flagicon|Mongolia}}`), in order.
        var flags: [CountryCode]

        /// The parts joined by a space; empty when there are none.
        var joined: String { parts.joined(separator: " ") }
        var isEmpty: Bool { parts.isEmpty }
    }

    /// Nesting deeper than this is dropped rather than rendered.
    static let deepestNesting = 24
    /// The part separator used while rendering (a C0 control no rendered text keeps).
    static let separator: Character = "\u{1E}"

    func render(_ text: String) -> Text {
        var renderer = Renderer(characters: Array(text), markup: self)
        var out = ""
        renderer.render(0..<renderer.characters.count, depth: 0, into: &out)
        let decoded = WikitextMarkup.decodeEntities(out)
        var parts: [String] = []
        for part in decoded.split(separator: WikitextMarkup.separator) {
            let words = part.split(whereSeparator: { $0.isWhitespace || $0 == "\u{00A0}" || $0.isControlCharacter })
            if !words.isEmpty { parts.append(words.joined(separator: " ")) }
        }
        return Text(parts: parts, flags: renderer.flags)
    }

    /// The country a flag template's argument names: a name, or a three-letter code.
    func flagCountry(_ argument: String) -> CountryCode? {
        let name = argument.trimmed("")
        if let code = gazetteer.country(named: name) { return code }
        if name.count == 3, name.allSatisfy(\.isASCII) { return gazetteer.country(cameo: name) }
        return nil
    }

    // MARK: - Rendering

    private struct Renderer {
        let characters: [Character]
        let markup: WikitextMarkup
        /// For the position of an opening `{{` or `[[`, the position of its closing `}}` or `]]`.
        let closing: [Int: Int]
        var flags: [CountryCode] = []
        /// For a tag whose content is dropped, the position of the first `</name` after the last
        /// opener looked at (`Int.max`: none).
        var nextClosing: [String: Int] = [:]

        init(characters: [Character], markup: WikitextMarkup) {
            self.characters = characters
            self.markup = markup
            closing = Renderer.matchBrackets(characters)
        }

        /// Pairs `{{` with `}}` and `[[` with `]]`, innermost first; an opener without its closer
        /// stays unpaired (text), as does a closer without an opener.
        static func matchBrackets(_ characters: [Character]) -> [Int: Int] {
            var closing: [Int: Int] = [:]
            var stack: [(brace: Bool, position: Int)] = []
            var open = (braces: 0, brackets: 0)
            var index = 0
            while index + 1 < characters.count {
                let pair = (characters[index], characters[index + 1])
                if pair == ("{", "{") || pair == ("[", "[") {
                    let brace = pair.0 == "{"
                    stack.append((brace, index))
                    if brace { open.braces += 1 } else { open.brackets += 1 }
                    index += 2
                } else if (pair == ("}", "}") && open.braces > 0) || (pair == ("]", "]") && open.brackets > 0) {
                    let brace = pair.0 == "}"
                    while let top = stack.popLast() {
                        if top.brace { open.braces -= 1 } else { open.brackets -= 1 }
                        if top.brace == brace {
                            closing[top.position] = index
                            break
                        }
                    }
                    index += 2
                } else {
                    index += 1
                }
            }
            return closing
        }

        func starts(_ text: String, at index: Int, caseInsensitive: Bool = false) -> Bool {
            var position = index
            for expected in text {
                guard position < characters.count else { return false }
                let actual = characters[position]
                if actual != expected, !(caseInsensitive && actual.lowercased() == expected.lowercased()) { return false }
                position += 1
            }
            return true
        }

        /// The positions in `range` of `|` at the top level (not inside paired brackets).
        func topLevelPipes(_ range: Range<Int>) -> [Int] {
            var pipes: [Int] = []
            var index = range.lowerBound
            while index < range.upperBound {
                if let close = closing[index], close + 2 <= range.upperBound {
                    index = close + 2
                    continue
                }
                if characters[index] == "|" { pipes.append(index) }
                index += 1
            }
            return pipes
        }

        /// Whether `range` holds a `=` outside paired brackets.
        func hasTopLevelEquals(_ range: Range<Int>) -> Bool {
            var index = range.lowerBound
            while index < range.upperBound {
                if let close = closing[index], close + 2 <= range.upperBound {
                    index = close + 2
                    continue
                }
                if characters[index] == "=" { return true }
                index += 1
            }
            return false
        }

        /// The pieces of `range` between top-level `|`.
        func arguments(_ range: Range<Int>) -> [Range<Int>] {
            var pieces: [Range<Int>] = []
            var start = range.lowerBound
            for pipe in topLevelPipes(range) {
                pieces.append(start..<pipe)
                start = pipe + 1
            }
            pieces.append(start..<range.upperBound)
            return pieces
        }

        func raw(_ range: Range<Int>) -> String { String(characters[range]) }

        mutating func rendered(_ range: Range<Int>, depth: Int) -> String {
            var out = ""
            render(range, depth: depth, into: &out)
            return out
        }

        mutating func render(_ range: Range<Int>, depth: Int, into out: inout String) {
            guard depth <= WikitextMarkup.deepestNesting else { return }
            var index = range.lowerBound
            while index < range.upperBound {
                let character = characters[index]
                if character == "{" || character == "[", let close = closing[index], close + 2 <= range.upperBound {
                    let inner = (index + 2)..<close
                    if character == "{" {
                        template(inner, depth: depth + 1, into: &out)
                    } else {
                        link(inner, depth: depth + 1, into: &out)
                    }
                    index = close + 2
                    continue
                }
                if character == "[", let end = externalLinkEnd(index, limit: range.upperBound) {
                    // `[http://x label]` shows the label; `[http://x]` shows nothing worth keeping.
                    var labelStart = index + 1
                    while labelStart < end, !characters[labelStart].isWhitespace { labelStart += 1 }
                    if labelStart < end { render((labelStart + 1)..<end, depth: depth + 1, into: &out) }
                    index = end + 1
                    continue
                }
                if character == "<", let end = tag(at: index, limit: range.upperBound, into: &out) {
                    index = end
                    continue
                }
                if character == "'", index + 1 < range.upperBound, characters[index + 1] == "'" {
                    // Bold and italics: a run of two or more apostrophes is markup.
                    while index < range.upperBound, characters[index] == "'" { index += 1 }
                    continue
                }
                if character == "_", starts("__", at: index), let end = magicWordEnd(index, limit: range.upperBound) {
                    index = end
                    continue
                }
                out.append(character)
                index += 1
            }
        }

        /// `__NOTOC__` and the like: the position after it.
        func magicWordEnd(_ index: Int, limit: Int) -> Int? {
            var position = index + 2
            while position < limit, characters[position].isUppercase, characters[position].isASCII { position += 1 }
            guard position > index + 2, position + 1 < limit, characters[position] == "_", characters[position + 1] == "_" else { return nil }
            return position + 2
        }

        /// The position of the `]` closing an external link opened at `index`, if it is one.
        func externalLinkEnd(_ index: Int, limit: Int) -> Int? {
            let start = index + 1
            guard ["http://", "https://", "ftp://", "//", "mailto:"].contains(where: { starts($0, at: start, caseInsensitive: true) }) else { return nil }
            var position = start
            while position < limit {
                if characters[position] == "]" { return position }
                if characters[position] == "\n" { return nil }
                position += 1
            }
            return nil
        }

        static let droppedTags: Set<String> = ["ref", "references", "math", "gallery", "syntaxhighlight", "score", "timeline",
                                               "graph", "mapframe", "maplink", "templatedata", "imagemap", "chem", "ce"]
        static let textTags: Set<String> = ["small", "big", "span", "div", "sup", "sub", "center", "s", "u", "i", "b", "abbr", "font",
                                            "p", "nowiki", "code", "tt", "del", "ins", "mark", "em", "strong", "li", "ul", "ol", "hr",
                                            "wbr", "section", "onlyinclude", "includeonly", "noinclude", "poem", "blockquote", "q",
                                            "cite", "bdi", "bdo", "var", "kbd", "samp", "dfn", "time", "data", "ruby", "rb", "rt", "rp",
                                            "strike", "table", "tr", "td", "th", "caption", "dl", "dt", "dd", "pre", "h1", "h2", "h3",
                                            "h4", "h5", "h6", "lang", "inputbox", "categorytree"]

        /// An HTML or extension tag at `index`: writes what it shows and returns the position after
        /// it (after its closing tag for those whose content is dropped); nil when `<` is text.
        mutating func tag(at index: Int, limit: Int, into out: inout String) -> Int? {
            var position = index + 1
            if position < limit, characters[position] == "/" { position += 1 }
            let nameStart = position
            while position < limit, characters[position].isASCII, characters[position].isLetter || characters[position].isNumber { position += 1 }
            let name = String(characters[nameStart..<position]).lowercased()
            let closingTag = nameStart > index + 1
            guard !name.isEmpty, name == "br" || Self.droppedTags.contains(name) || Self.textTags.contains(name) else { return nil }
            guard position >= limit || characters[position] == ">" || characters[position] == "/" || characters[position].isWhitespace else { return nil }
            var end = position
            while end < limit, characters[end] != ">" { end += 1 }
            guard end < limit else { return nil }
            let selfClosing = characters[end - 1] == "/"
            if name == "br" {
                out.append(WikitextMarkup.separator)
                return end + 1
            }
            if Self.droppedTags.contains(name), !closingTag, !selfClosing {
                // Skip to the closing tag; without one, only the opening tag goes. The closing tag
                // found is remembered, so that many openers before one closer are not each a search.
                var close = nextClosing[name] ?? -1
                if close <= end {
                    close = Int.max
                    var search = end + 1
                    while search < characters.count {
                        if characters[search] == "<", starts("</\(name)", at: search, caseInsensitive: true) {
                            close = search
                            break
                        }
                        search += 1
                    }
                    nextClosing[name] = close
                }
                if close < limit {
                    var after = close
                    while after < limit, characters[after] != ">" { after += 1 }
                    return min(after + 1, limit)
                }
            }
            return end + 1
        }

        /// `[[target|label]]` shows the label, `[[target]]` the target; files and categories show nothing.
        mutating func link(_ inner: Range<Int>, depth: Int, into out: inout String) {
            let pieces = arguments(inner)
            let target = raw(pieces[0]).trimmed("")
            let namespace = target.split(separator: ":", maxSplits: 1).first.map { $0.lowercased().trimmed("") } ?? ""
            if target.contains(":"), ["file", "image", "category", "media"].contains(namespace) { return }
            if pieces.count > 1 {
                let label = pieces[1].lowerBound..<pieces[pieces.count - 1].upperBound
                render(label, depth: depth, into: &out)
                return
            }
            var shown = target.hasPrefix(":") ? String(target.dropFirst()) : target
            if let hash = shown.firstIndex(of: "#"), hash != shown.startIndex { shown = String(shown[..<hash]) }
            render(Array(shown), depth: depth, into: &out)
        }

        /// Renders text that is not a slice of `characters` (a link target).
        mutating func render(_ text: [Character], depth: Int, into out: inout String) {
            var nested = Renderer(characters: text, markup: markup)
            nested.render(0..<text.count, depth: depth, into: &out)
            flags += nested.flags
        }

        /// A template: the text it shows, if it is one of those that show text, else nothing.
        mutating func template(_ inner: Range<Int>, depth: Int, into out: inout String) {
            let pieces = arguments(inner)
            var name = raw(pieces[0]).lowercased().replacingAll("_", with: " ")
            name = name.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            if name.hasPrefix("template:") { name = String(name.dropFirst("template:".count)).trimmed("") }
            var positional: [Range<Int>] = []
            for piece in pieces.dropFirst() {
                // `name=value` is a named argument unless the `=` sits inside brackets.
                if !hasTopLevelEquals(piece) { positional.append(piece) }
            }
            func argument(_ number: Int) -> String? {
                guard number < positional.count else { return nil }
                let text = raw(positional[number]).trimmed("")
                return text.isEmpty ? nil : text
            }
            switch name {
            case "flag", "flagcountry", "flagu", "flagcu", "flag country", "flagc", "flagdeco+name":
                guard let country = argument(0) else { return }
                let code = markup.flagCountry(country)
                if let code { flags.append(code) }
                if let code, markup.gazetteer.country(named: country) == nil {
                    out += markup.gazetteer.name(of: code)
                } else {
                    out += country
                }
            case "flagicon", "flagdeco", "flagicon image", "flag icon":
                if name != "flagicon image", let country = argument(0), let code = markup.flagCountry(country) { flags.append(code) }
            case "flagg":
                if let country = argument(1), let code = markup.flagCountry(country) {
                    flags.append(code)
                    out += markup.gazetteer.name(of: code)
                }
            case "dts", "dtsx", "date table sorting", "start date", "start date and age", "end date", "end date and age",
                 "start-date", "end-date", "birth date", "death date", "date", "start and end dates":
                out += WikitextMarkup.dateText(positional.map { raw($0).trimmed("") })
            case "nowrap", "nobr", "small", "smaller", "big", "larger", "center", "centre", "nobold", "noitalic", "resize",
                 "midsize", "no wrap", "nowrap begin", "sc", "smallcaps", "small caps", "bold", "strong", "em", "italic", "huge",
                 "tooltip", "abbr", "plainlink", "ill", "interlanguage link", "illm", "link-interwiki", "nihongo", "lang-ko",
                 "proper name", "vanchor", "anchored", "visible anchor", "ship", "sic", "as written", "colored link", "nbsp-join":
                if name == "resize", positional.count > 1 {
                    render(positional[1], depth: depth, into: &out)
                } else if let first = positional.first {
                    render(first, depth: depth, into: &out)
                }
            case "sortname":
                let names = positional.prefix(2).map { rendered($0, depth: depth).trimmed("") }
                out += names.joined(separator: " ")
            case "sort", "sort name", "sortkey", "hs", "hidden sort key", "nts", "number table sorting", "ntsh":
                if name == "sort" || name == "sortkey" {
                    if let shown = positional.count > 1 ? positional[1] : positional.first { render(shown, depth: depth, into: &out) }
                } else if name == "nts" || name == "number table sorting", let first = positional.first {
                    render(first, depth: depth, into: &out)
                }
            case "lang", "transl", "transliteration", "script", "native name", "korean", "lang-mn":
                if let text = positional.count > 1 ? positional[1] : positional.first { render(text, depth: depth, into: &out) }
            case "ubl", "unbulleted list", "plainlist", "plain list", "hlist", "flatlist", "bulleted list", "bull list",
                 "ordered list", "unbulleted", "br separated entries", "collapsible list", "endplainlist", "startplainlist":
                for item in positional {
                    out.append(WikitextMarkup.separator)
                    render(item, depth: depth, into: &out)
                }
                out.append(WikitextMarkup.separator)
            case "ndash", "snd", "spaced ndash", "–": out += " – "
            case "mdash", "spaced mdash", "—": out += " — "
            case "nbsp", "space", "thinsp", "sp": out += " "
            case "circa", "c.", "ca.", "c", "ca":
                out += "c. " + (argument(0) ?? "")
            case "!": out += "|"
            case "=": out += "="
            default:
                // Footnotes ({{efn}}, {{sfn}}, {{refn}}), maintenance tags ({{citation needed}}),
                // infoboxes, navigation and parser functions show nothing worth reading here.
                break
            }
        }
    }

    // MARK: - Dates

    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                             "October", "November", "December"]

    /// The date a date template shows, as text `DateText` reads: `{{dts|1987|5|12}}` -> "12 May 1987",
    /// `{{dts|12 May 1987}}` -> "12 May 1987", `{{Start date|1987|5}}` -> "May 1987".
    static func dateText(_ arguments: [String]) -> String {
        let values = arguments.filter { !$0.isEmpty }
        guard let first = values.first else { return "" }
        guard first.allSatisfy(\.isASCIIDigit) || (first.hasPrefix("-") && first.dropFirst().allSatisfy(\.isASCIIDigit)) else {
            return first
        }
        // Year, month (number or name), day; hours and later are ignored.
        var text = first
        guard values.count > 1 else { return text }
        var monthName: String?
        if let month = Int(values[1]), (1...12).contains(month) {
            monthName = monthNames[month - 1]
        } else if let name = monthNames.first(where: { $0.lowercased() == values[1].lowercased() || $0.prefix(3).lowercased() == values[1].lowercased() }) {
            monthName = name
        }
        guard let monthName else { return values.prefix(3).joined(separator: " ") }
        text = "\(monthName) \(first)"
        if values.count > 2 {
            let day = values[2]
            guard day.allSatisfy(\.isASCIIDigit), let number = Int(day), (1...31).contains(number) else { return "\(day) \(text)" }
            text = "\(number) \(text)"
        }
        return text
    }

    // MARK: - Entities

    static let namedEntities: [String: String] = [
        "nbsp": " ", "ndash": "\u{2013}", "mdash": "\u{2014}", "minus": "\u{2212}", "amp": "&", "lt": "<", "gt": ">",
        "quot": "\"", "apos": "'", "thinsp": " ", "ensp": " ", "emsp": " ", "hairsp": " ", "zwj": "", "zwnj": "", "shy": "",
        "lrm": "", "rlm": "", "middot": "\u{00B7}", "bull": "\u{2022}", "hellip": "\u{2026}", "lsquo": "\u{2018}",
        "rsquo": "\u{2019}", "ldquo": "\u{201C}", "rdquo": "\u{201D}", "laquo": "\u{00AB}", "raquo": "\u{00BB}",
        "times": "\u{00D7}", "deg": "\u{00B0}", "prime": "\u{2032}", "eacute": "é", "egrave": "è", "ouml": "ö",
        "uuml": "ü", "auml": "ä", "aacute": "á", "oacute": "ó", "iacute": "í", "uacute": "ú", "ccedil": "ç", "ntilde": "ñ",
    ]

    /// `&ndash;`, `&#8211;` and `&#x2013;` as their characters; anything else stays as written.
    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            let after = rest[rest.index(after: amp)...]
            let name = after.prefix(while: { $0 != ";" && $0 != "&" && !$0.isWhitespace }).prefix(12)
            guard name.count < after.count, after[after.index(after.startIndex, offsetBy: name.count)] == ";",
                  let decoded = entity(String(name)) else {
                out.append("&")
                rest = after
                continue
            }
            out += decoded
            rest = after.dropFirst(name.count + 1)
        }
        out += rest
        return out
    }

    private static func entity(_ name: String) -> String? {
        if name.hasPrefix("#") {
            let digits = name.dropFirst()
            let value: UInt32?
            if digits.hasPrefix("x") || digits.hasPrefix("X") {
                value = UInt32(digits.dropFirst(), radix: 16)
            } else {
                value = UInt32(digits)
            }
            // Control characters and line ends would break a line-based record; they read as a space.
            guard let value, let scalar = Unicode.Scalar(value) else { return nil }
            return scalar.properties.generalCategory == .control ? " " : String(Character(scalar))
        }
        return namedEntities[name] ?? namedEntities[name.lowercased()]
    }
}

extension Character {
    var isControlCharacter: Bool { unicodeScalars.allSatisfy { $0.properties.generalCategory == .control } }
}
