/// Why a date written in prose could not be read.
public struct DateTextError: Error, Equatable, Sendable, CustomStringConvertible {
    public let text: String
    public let reason: String
    public var description: String { "cannot read date '\(text)': \(reason)" }
}

/// Reads the date styles that Wikipedia uses in tables and lists and writes them as EDTF, keeping
/// exactly the precision the text gives.
///
/// Accepted: `1956`; `1970s`; `July 2007`; `16 July 1956`; `July 16, 1956`; `1974-12-21`;
/// ranges with a hyphen, en dash, em dash or "to" (`16-18 July 1956`, `July 16–18, 1956`,
/// `30 June – 2 July 1956`, `June 30 – July 2, 1956`, `30 December 1956 – 2 January 1957`,
/// `1950–1952`, `1950–52`); open-ended terms (`2017–`, `2017–present`, `since 2017`).
public enum DateText {
    private static let months: [String: Int] = {
        let names = ["january", "february", "march", "april", "may", "june", "july", "august",
                     "september", "october", "november", "december"]
        var table: [String: Int] = [:]
        for (index, name) in names.enumerated() {
            table[name] = index + 1
            table[String(name.prefix(3))] = index + 1
        }
        table["sept"] = 9
        return table
    }()

    private static let openEndWords: Set<String> = ["present", "now", "today", "incumbent", "current", "ongoing"]

    public static func parse(_ raw: String) throws(DateTextError) -> EDTFDate {
        let text = clean(raw)
        guard !text.isEmpty else { throw DateTextError(text: raw, reason: "the date is empty") }
        if let date = EDTFDate(edtf: text) { return date }

        var working = text
        var openEnd = false
        let lower = working.lowercased()
        if lower.hasPrefix("since ") {
            working = String(working.dropFirst(6))
            openEnd = true
        }
        // Unify every range separator into a single "~" marker.
        for separator in ["\u{2013}", "\u{2014}", "\u{2212}", " to ", " until ", " till "] {
            working = working.replacingAll(separator, with: "~")
        }
        working = working.replacingAll("-", with: "~")
        let sides = working.split(separator: "~", omittingEmptySubsequences: false).map {
            $0.trimmed(" ,")
        }
        if sides.count > 2 { throw DateTextError(text: raw, reason: "more than one range separator") }

        if sides.count == 1 {
            let part = try components(sides[0], raw: raw)
            let date = try part.date(raw: raw)
            return openEnd ? .interval(start: date, end: nil) : .single(date)
        }
        if openEnd { throw DateTextError(text: raw, reason: "'since' with a range") }

        let leftText = sides[0], rightText = sides[1]
        if leftText.isEmpty { throw DateTextError(text: raw, reason: "the range has no start") }
        if rightText.isEmpty || openEndWords.contains(rightText.lowercased()) {
            let start = try components(leftText, raw: raw).date(raw: raw)
            return .interval(start: start, end: nil)
        }

        var left = try components(leftText, raw: raw)
        var right = try components(rightText, raw: raw)
        // "1950–52": an abbreviated end year.
        if left.year != nil, left.month == nil, left.day == nil, !left.decade,
           right.year == nil, right.month == nil, let short = right.day, rightText.count == 2,
           let leftYear = left.year {
            let century = leftYear - leftYear % 100
            var end = century + short
            if end < leftYear { end += 100 }
            right = Components(day: nil, month: nil, year: end, decade: false)
        }
        // Fill what the start leaves to the end ("16–18 July 1956") and the other way round ("July 16–18, 1956").
        if left.year == nil { left.year = right.year }
        if left.month == nil, left.day != nil { left.month = right.month }
        if right.month == nil, right.day != nil { right.month = left.month }
        if right.year == nil { right.year = left.year }
        let start = try left.date(raw: raw)
        let end = try right.date(raw: raw)
        if end < start { throw DateTextError(text: raw, reason: "the range ends before it starts") }
        if start == end { return .single(start) }
        return .interval(start: start, end: end)
    }

    private struct Components {
        var day: Int?
        var month: Int?
        var year: Int?
        var decade: Bool

        func date(raw: String) throws(DateTextError) -> PartialDate {
            guard let year else { throw DateTextError(text: raw, reason: "no year") }
            if decade {
                guard let date = PartialDate(decade: year) else { throw DateTextError(text: raw, reason: "no such decade") }
                return date
            }
            if day != nil, month == nil { throw DateTextError(text: raw, reason: "a day without a month") }
            guard let date = PartialDate(year: year, month: month, day: day) else {
                throw DateTextError(text: raw, reason: "no such day")
            }
            return date
        }
    }

    private static func components(_ text: String, raw: String) throws(DateTextError) -> Components {
        var result = Components(day: nil, month: nil, year: nil, decade: false)
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "." }).map(String.init)
        if tokens.isEmpty { throw DateTextError(text: raw, reason: "an empty side of a range") }
        for token in tokens {
            let lower = token.lowercased()
            if let month = months[lower] {
                guard result.month == nil else { throw DateTextError(text: raw, reason: "two months in one date") }
                result.month = month
                continue
            }
            var digits = lower
            var isDecade = false
            for suffix in ["st", "nd", "rd", "th"] where digits.hasSuffix(suffix) && digits.count > 2 {
                digits.removeLast(2)
                break
            }
            if digits.hasSuffix("s"), digits.count == 5 {
                digits.removeLast()
                isDecade = true
            }
            guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit), let value = Int(digits) else {
                throw DateTextError(text: raw, reason: "'\(token)' is not part of a date")
            }
            if digits.count >= 3 || isDecade {
                guard result.year == nil else { throw DateTextError(text: raw, reason: "two years in one date") }
                if isDecade, value % 10 != 0 { throw DateTextError(text: raw, reason: "'\(token)' is not a decade") }
                result.year = value
                result.decade = isDecade
            } else {
                guard result.day == nil else { throw DateTextError(text: raw, reason: "two days in one date") }
                result.day = value
            }
        }
        return result
    }

    /// Drops footnote marks (`[1]`, `[note 2]`), non-breaking spaces and surrounding blanks.
    private static func clean(_ raw: String) -> String {
        var text = ""
        var depth = 0
        for character in raw {
            if character == "[" { depth += 1; continue }
            if character == "]" { depth = max(0, depth - 1); continue }
            if depth > 0 { continue }
            text.append(character == "\u{00A0}" ? " " : character)
        }
        let collapsed = text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        return collapsed.trimmed(" .")
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension StringProtocol {
    /// Trims the given characters from both ends (Foundation-free).
    func trimmed(_ set: String) -> String {
        let drop = Set(set)
        var slice = Substring(self)
        while let first = slice.first, drop.contains(first) || first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, drop.contains(last) || last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }
}
