/// A calendar date at the precision its source gives: a decade, a year, a month or a day.
public struct PartialDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    public enum Precision: Int, Comparable, Sendable {
        case decade, year, month, day
        public static func < (lhs: Precision, rhs: Precision) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// The year; for decade precision, the first year of the decade (1970 for the 1970s).
    public let year: Int
    public let month: Int?
    public let day: Int?
    public let isDecade: Bool

    public var precision: Precision {
        if isDecade { return .decade }
        if day != nil { return .day }
        if month != nil { return .month }
        return .year
    }

    /// Builds a date and checks that it exists (1956-02-30 does not). EDTF years go from -9999 to 9999.
    public init?(year: Int, month: Int? = nil, day: Int? = nil) {
        guard (-9999...9999).contains(year) else { return nil }
        if let month {
            guard (1...12).contains(month) else { return nil }
            if let day {
                guard day >= 1, day <= PartialDate.daysIn(month: month, year: year) else { return nil }
            }
        } else if day != nil {
            return nil
        }
        self.year = year
        self.month = month
        self.day = day
        self.isDecade = false
    }

    /// The decade starting at `decadeStart` (which must be a multiple of ten).
    public init?(decade decadeStart: Int) {
        guard decadeStart % 10 == 0, (0...9990).contains(decadeStart) else { return nil }
        year = decadeStart
        month = nil
        day = nil
        isDecade = true
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// EDTF form: `1956`, `1956-07`, `1956-07-16`, `197X` for a decade, `-0044` for 44 BCE.
    public var description: String {
        if isDecade {
            let tens = String(year / 10)
            return String(repeating: "0", count: max(0, 3 - tens.count)) + tens + "X"
        }
        var text = PartialDate.pad(year)
        if let month { text += "-" + PartialDate.two(month) }
        if let day { text += "-" + PartialDate.two(day) }
        return text
    }

    /// Appends `description`'s UTF-8 (ASCII digits, `-` and `X`) without making a String: how
    /// event ids and JSON bodies get their date.
    public func appendText(to bytes: inout [UInt8]) {
        if isDecade {
            guard year >= 0 else { return bytes.append(contentsOf: description.utf8) }
            // The decade's first three digits, zero-padded (`197X`; `000X` for the years 0-9).
            PartialDate.appendDigits(year / 10, width: 3, to: &bytes)
            bytes.append(UInt8(ascii: "X"))
            return
        }
        if year < 0 { bytes.append(UInt8(ascii: "-")) }
        PartialDate.appendDigits(abs(year), width: 4, to: &bytes)
        if let month {
            bytes.append(UInt8(ascii: "-"))
            PartialDate.appendDigits(month, width: 2, to: &bytes)
        }
        if let day {
            bytes.append(UInt8(ascii: "-"))
            PartialDate.appendDigits(day, width: 2, to: &bytes)
        }
    }

    /// A non-negative number in decimal, padded with zeros to `width` digits.
    private static func appendDigits(_ value: Int, width: Int, to bytes: inout [UInt8]) {
        var divisor = 1, digits = 1
        while divisor <= value / 10 {
            divisor *= 10
            digits += 1
        }
        for _ in digits..<max(digits, width) { bytes.append(UInt8(ascii: "0")) }
        var rest = value
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    private static func pad(_ year: Int) -> String {
        let digits = String(abs(year))
        let padded = String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        return year < 0 ? "-" + padded : padded
    }

    private static func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// Orders by the earliest day each date could mean, then coarser before finer.
    public static func < (lhs: PartialDate, rhs: PartialDate) -> Bool {
        (lhs.year, lhs.month ?? 0, lhs.day ?? 0, lhs.precision) < (rhs.year, rhs.month ?? 0, rhs.day ?? 0, rhs.precision)
    }
}

/// A date in the Library of Congress Extended Date/Time Format (EDTF, ISO 8601-2), limited to what
/// diplomatic timelines need: a single date at its own precision, or an interval whose ends may be
/// open (`2017/..`).
public enum EDTFDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    case single(PartialDate)
    /// A closed or open interval. At least one end is present.
    case interval(start: PartialDate?, end: PartialDate?)

    /// The first year the date covers (the end's year when the start is open); decade buckets use it.
    public var year: Int {
        switch self {
        case .single(let date): return date.year
        case .interval(let start, let end): return (start ?? end)!.year
        }
    }

    public var start: PartialDate? {
        switch self {
        case .single(let date): return date
        case .interval(let start, _): return start
        }
    }

    public var end: PartialDate? {
        switch self {
        case .single(let date): return date
        case .interval(_, let end): return end
        }
    }

    /// The precision of the start (or of the end for an open start).
    public var precision: PartialDate.Precision {
        switch self {
        case .single(let date): return date.precision
        case .interval(let start, let end): return (start ?? end)!.precision
        }
    }

    /// Appends `description`'s UTF-8 without making Strings.
    public func appendText(to bytes: inout [UInt8]) {
        switch self {
        case .single(let date): date.appendText(to: &bytes)
        case .interval(let start, let end):
            if let start { start.appendText(to: &bytes) } else { bytes += [UInt8(ascii: "."), UInt8(ascii: ".")] }
            bytes.append(UInt8(ascii: "/"))
            if let end { end.appendText(to: &bytes) } else { bytes += [UInt8(ascii: "."), UInt8(ascii: ".")] }
        }
    }

    public var description: String {
        switch self {
        case .single(let date): return date.description
        case .interval(let start, let end):
            return (start?.description ?? "..") + "/" + (end?.description ?? "..")
        }
    }

    public static func < (lhs: EDTFDate, rhs: EDTFDate) -> Bool {
        switch (lhs.start, rhs.start) {
        case let (l?, r?):
            if l != r { return l < r }
        case (nil, _?): return true
        case (_?, nil): return false
        case (nil, nil): break
        }
        return lhs.description < rhs.description
    }

    /// Parses an EDTF string: `1956`, `1956-07`, `1956-07-16`, `197X`, and intervals of those joined
    /// by `/`, with `..` for an open end. Returns nil for anything else, including dates that do not
    /// exist and intervals that end before they start.
    public init?(edtf text: String) {
        if let slash = text.firstIndex(of: "/") {
            let left = String(text[..<slash])
            let right = String(text[text.index(after: slash)...])
            let start = left == ".." ? nil : EDTFDate.parsePartial(left)
            let end = right == ".." ? nil : EDTFDate.parsePartial(right)
            if left != "..", start == nil { return nil }
            if right != "..", end == nil { return nil }
            if start == nil, end == nil { return nil }
            if let start, let end, end < start { return nil }
            self = .interval(start: start, end: end)
        } else {
            guard let date = EDTFDate.parsePartial(text) else { return nil }
            self = .single(date)
        }
    }

    /// `init?(edtf:)` on the text's UTF-8 bytes, without making a string: the event scanner reads
    /// every date in place. Text with any byte outside ASCII is refused, as it is there (the parts
    /// must be digits, `-`, `X` or `..`).
    init?(edtfBytes bytes: UnsafeBufferPointer<UInt8>) {
        let count = bytes.count
        var slash = 0
        while slash < count, bytes[slash] != UInt8(ascii: "/") { slash += 1 }
        guard slash < count else {
            guard let date = EDTFDate.parsePartial(bytes, from: 0, to: count) else { return nil }
            self = .single(date)
            return
        }
        func isOpen(_ from: Int, _ to: Int) -> Bool {
            to - from == 2 && bytes[from] == UInt8(ascii: ".") && bytes[from + 1] == UInt8(ascii: ".")
        }
        let leftOpen = isOpen(0, slash), rightOpen = isOpen(slash + 1, count)
        let start = leftOpen ? nil : EDTFDate.parsePartial(bytes, from: 0, to: slash)
        let end = rightOpen ? nil : EDTFDate.parsePartial(bytes, from: slash + 1, to: count)
        if !leftOpen, start == nil { return nil }
        if !rightOpen, end == nil { return nil }
        if start == nil, end == nil { return nil }
        if let start, let end, end < start { return nil }
        self = .interval(start: start, end: end)
    }

    /// `parsePartial(_:)` on `bytes[from..<to]`.
    private static func parsePartial(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> PartialDate? {
        var start = from
        var negative = false
        if start < to, bytes[start] == UInt8(ascii: "-") {
            negative = true
            start += 1
        }
        func number(_ from: Int, _ to: Int) -> Int? {
            var value = 0
            for index in from..<to {
                let digit = bytes[index] &- 0x30
                guard digit <= 9 else { return nil }
                value = value * 10 + Int(digit)
            }
            return value
        }
        let count = to - start
        if count == 4, bytes[start + 3] == UInt8(ascii: "X"), !negative {
            guard let tens = number(start, start + 3) else { return nil }
            return PartialDate(decade: tens * 10)
        }
        guard count >= 4, let year = number(start, start + 4) else { return nil }
        let signedYear = negative ? -year : year
        switch count {
        case 4:
            return PartialDate(year: signedYear)
        case 7:
            guard bytes[start + 4] == UInt8(ascii: "-"), let month = number(start + 5, start + 7) else { return nil }
            return PartialDate(year: signedYear, month: month)
        case 10:
            guard bytes[start + 4] == UInt8(ascii: "-"), bytes[start + 7] == UInt8(ascii: "-"),
                  let month = number(start + 5, start + 7), let day = number(start + 8, start + 10) else { return nil }
            return PartialDate(year: signedYear, month: month, day: day)
        default:
            return nil
        }
    }

    private static func parsePartial(_ text: String) -> PartialDate? {
        var bytes = Array(text.utf8)
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes.removeFirst()
        }
        func number(_ slice: ArraySlice<UInt8>) -> Int? {
            guard !slice.isEmpty, slice.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return slice.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        if bytes.count == 4, bytes[3] == UInt8(ascii: "X"), !negative {
            guard let tens = number(bytes[0..<3]) else { return nil }
            return PartialDate(decade: tens * 10)
        }
        guard bytes.count >= 4, let year = number(bytes[0..<4]) else { return nil }
        let signedYear = negative ? -year : year
        switch bytes.count {
        case 4:
            return PartialDate(year: signedYear)
        case 7:
            guard bytes[4] == UInt8(ascii: "-"), let month = number(bytes[5..<7]) else { return nil }
            return PartialDate(year: signedYear, month: month)
        case 10:
            guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
                  let month = number(bytes[5..<7]), let day = number(bytes[8..<10]) else { return nil }
            return PartialDate(year: signedYear, month: month, day: day)
        default:
            return nil
        }
    }
}
