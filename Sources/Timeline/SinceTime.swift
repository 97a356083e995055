/// Why a start time (`monitor --since`) could not be read: the text, what is wrong with it, and
/// the forms that are accepted.
public struct SinceTimeError: Error, Equatable, Sendable, CustomStringConvertible {
    public let text: String
    public let reason: String

    public init(_ text: String, _ reason: String) {
        self.text = text
        self.reason = reason
    }

    public var description: String {
        "cannot read '\(text)' as a start time: \(reason). Give \(SinceTime.acceptedForms)"
    }
}

/// Where a feed starts: a moment, or a span back from the moment the feed starts.
///
/// A moment is an RFC 3339 time with a zone (`2026-11-30T00:00Z`, `2026-11-30T00:00:00Z`,
/// `2026-11-30T09:30:15.250+02:00`; seconds and their fraction are optional, the fraction counts to
/// the millisecond) or a bare date (`2026-11-30`: midnight UTC). A span is whole numbers of days,
/// hours, minutes and seconds, largest unit first: `30s`, `10m`, `2h`, `1d`, `1h30m`.
public enum SinceTime: Equatable, Sendable {
    /// Milliseconds since the Unix epoch.
    case at(milliseconds: Int64)
    /// A span back from now.
    case ago(Duration)

    /// The accepted forms, for error messages.
    public static let acceptedForms = "a time with a zone such as 2026-11-30T00:00Z or 2026-11-30T09:30:15.250+02:00, "
        + "a date such as 2026-11-30 (midnight UTC), or a span back from now such as 30s, 10m, 2h, 1d or 1h30m"

    public init(parsing text: String) throws(SinceTimeError) {
        var cursor = Cursor(Array(text.utf8))
        guard let first = cursor.peek else { throw SinceTimeError(text, "it is empty") }
        if first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            throw SinceTimeError(text, "a span has no sign: 10m already means ten minutes ago")
        }
        guard Cursor.isDigit(first) else { throw SinceTimeError(text, "it starts with neither a date nor a number") }
        // A date starts with four digits and a hyphen; a span never has a hyphen.
        if cursor.bytes.count >= 5, cursor.bytes[..<4].allSatisfy(Cursor.isDigit), cursor.bytes[4] == UInt8(ascii: "-") {
            self = .at(milliseconds: try SinceTime.moment(&cursor, text: text))
        } else {
            self = .ago(.milliseconds(try SinceTime.span(&cursor, text: text)))
        }
    }

    /// The start as milliseconds since the Unix epoch, a span counted back from `now` (also in
    /// milliseconds since the epoch).
    public func milliseconds(now: Int64) -> Int64 {
        switch self {
        case .at(let milliseconds):
            return milliseconds
        case .ago(let span):
            let (seconds, attoseconds) = span.components
            let back = seconds.multipliedReportingOverflow(by: 1000)
            guard !back.overflow else { return .min }
            let (start, overflow) = now.subtractingReportingOverflow(back.partialValue + attoseconds / 1_000_000_000_000_000)
            return overflow ? .min : start
        }
    }

    // MARK: - Spans

    private static let units: [(unit: UInt8, milliseconds: Int64)] = [
        (UInt8(ascii: "d"), 86_400_000), (UInt8(ascii: "h"), 3_600_000), (UInt8(ascii: "m"), 60_000), (UInt8(ascii: "s"), 1000),
    ]

    /// `1d`, `2h30m`, `90s`: numbers each followed by a unit, largest unit first, each unit once.
    private static func span(_ cursor: inout Cursor, text: String) throws(SinceTimeError) -> Int64 {
        var total: Int64 = 0
        var nextUnit = 0
        while !cursor.atEnd {
            guard let number = cursor.number() else {
                throw SinceTimeError(text, "expected a number where '\(cursor.rest)' is")
            }
            let shown = String(cursor.rest.prefix(1))
            guard let unit = cursor.next() else {
                throw SinceTimeError(text, "the number \(number) has no unit (s, m, h or d)")
            }
            guard let rank = units.firstIndex(where: { $0.unit == unit }) else {
                throw SinceTimeError(text, "'\(shown)' is not a unit: use s, m, h or d")
            }
            guard rank >= nextUnit else {
                throw SinceTimeError(text, "give each unit once, largest first (1h30m, not 30m1h)")
            }
            nextUnit = rank + 1
            let (part, overflow) = number.multipliedReportingOverflow(by: units[rank].milliseconds)
            let (sum, overflowed) = total.addingReportingOverflow(part)
            guard !overflow, !overflowed else { throw SinceTimeError(text, "the span is too long") }
            total = sum
        }
        return total
    }

    // MARK: - Moments

    /// `YYYY-MM-DD`, or that with `T`, `HH:MM`, optionally `:SS` and `.fraction`, and a zone (`Z`,
    /// `+HH:MM`, `-HHMM`).
    private static func moment(_ cursor: inout Cursor, text: String) throws(SinceTimeError) -> Int64 {
        func fixed(_ count: Int, _ field: String) throws(SinceTimeError) -> Int64 {
            guard let value = cursor.digits(count) else { throw SinceTimeError(text, "expected \(count) digits of the \(field) where '\(cursor.rest)' is") }
            return value
        }
        func expect(_ byte: Character, before field: String) throws(SinceTimeError) {
            guard cursor.take(byte.asciiValue!) else { throw SinceTimeError(text, "expected '\(byte)' before the \(field) where '\(cursor.rest)' is") }
        }
        let year = try fixed(4, "year")
        try expect("-", before: "month")
        let month = try fixed(2, "month")
        try expect("-", before: "day")
        let day = try fixed(2, "day")
        guard (1...12).contains(month) else { throw SinceTimeError(text, "there is no month \(month)") }
        guard (1...Int64(PartialDate.daysIn(month: Int(month), year: Int(year)))).contains(day) else {
            throw SinceTimeError(text, "month \(month) of \(year) has no day \(day)")
        }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        if cursor.atEnd { return days * 86_400_000 }

        guard cursor.take(UInt8(ascii: "T")) || cursor.take(UInt8(ascii: "t")) || cursor.take(UInt8(ascii: " ")) else {
            throw SinceTimeError(text, "expected 'T' and a time of day after the date, where '\(cursor.rest)' is")
        }
        let hour = try fixed(2, "hour")
        try expect(":", before: "minutes")
        let minute = try fixed(2, "minutes")
        var second: Int64 = 0
        var millisecond: Int64 = 0
        if cursor.take(UInt8(ascii: ":")) {
            second = try fixed(2, "seconds")
            if cursor.take(UInt8(ascii: ".")) || cursor.take(UInt8(ascii: ",")) {
                // To the millisecond; further digits are dropped (a start a fraction earlier).
                var scale: Int64 = 100
                var any = false
                while let digit = cursor.digits(1) {
                    millisecond += digit * scale
                    scale /= 10
                    any = true
                }
                guard any else { throw SinceTimeError(text, "expected digits of a fraction of a second after the '.'") }
            }
        }
        guard hour <= 23 else { throw SinceTimeError(text, "there is no hour \(hour)") }
        guard minute <= 59 else { throw SinceTimeError(text, "there is no minute \(minute)") }
        // 60 is a leap second (RFC 3339); it counts as the first second of the next minute.
        guard second <= 60 else { throw SinceTimeError(text, "there is no second \(second)") }

        let offsetMinutes: Int64
        if cursor.take(UInt8(ascii: "Z")) || cursor.take(UInt8(ascii: "z")) {
            offsetMinutes = 0
        } else if let sign = cursor.peek, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            _ = cursor.next()
            let hours = try fixed(2, "zone's hours")
            _ = cursor.take(UInt8(ascii: ":"))
            let minutes = try fixed(2, "zone's minutes")
            guard hours <= 23, minutes <= 59 else { throw SinceTimeError(text, "there is no zone offset of \(hours) hours and \(minutes) minutes") }
            offsetMinutes = (sign == UInt8(ascii: "-") ? -1 : 1) * (hours * 60 + minutes)
        } else if cursor.atEnd {
            throw SinceTimeError(text, "a time of day needs a zone: Z for UTC, or an offset such as +02:00")
        } else {
            throw SinceTimeError(text, "expected a zone (Z or an offset such as +02:00) where '\(cursor.rest)' is")
        }
        guard cursor.atEnd else { throw SinceTimeError(text, "unexpected '\(cursor.rest)' after the time") }
        let seconds = ((days * 24 + hour) * 60 + minute - offsetMinutes) * 60 + second
        return seconds * 1000 + millisecond
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
    /// `days_from_civil`).
    static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// Reads ASCII from the front of the bytes of a start time.
private struct Cursor {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    var atEnd: Bool { index == bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[index] }
    /// What is left, for messages.
    var rest: String { atEnd ? "" : String(decoding: bytes[index...], as: UTF8.self) }

    mutating func next() -> UInt8? {
        guard let byte = peek else { return nil }
        index += 1
        return byte
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        index += 1
        return true
    }

    /// Exactly `count` digits as a number, or nil (and nothing read) when they are not there.
    mutating func digits(_ count: Int) -> Int64? {
        guard bytes.count - index >= count, bytes[index..<index + count].allSatisfy(Cursor.isDigit) else { return nil }
        defer { index += count }
        return bytes[index..<index + count].reduce(0) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
    }

    /// One or more digits as a number (`Int64.max` for one too large for it), or nil when there is none.
    mutating func number() -> Int64? {
        let start = index
        var value: Int64 = 0
        while let byte = peek, Cursor.isDigit(byte) {
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowed) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            value = overflow || overflowed ? .max : sum
            index += 1
        }
        return index > start ? value : nil
    }
}
