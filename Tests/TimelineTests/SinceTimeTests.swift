import Testing
@testable import Timeline

@Suite("Reading start times (monitor --since)")
struct SinceTimeTests {
    /// 2026-11-30T00:00:00Z in milliseconds since the Unix epoch.
    static let midnight: Int64 = 1_795_996_800_000

    @Test("RFC 3339 times with a zone, with or without seconds and fractions, read to the millisecond", arguments: [
        ("2026-11-30T00:00Z", midnight),
        ("2026-11-30T00:00:00Z", midnight),
        ("2026-11-30t00:00z", midnight),
        ("2026-11-30 00:00:00Z", midnight),
        ("2026-11-30T00:00:00.250Z", midnight + 250),
        ("2026-11-30T00:00:00.5Z", midnight + 500),
        ("2026-11-30T00:00:00.1239999Z", midnight + 123),
        ("2026-11-30T02:00+02:00", midnight),
        ("2026-11-30T02:00:00+0200", midnight),
        ("2026-11-29T19:00:00-05:00", midnight),
        ("2026-11-30T05:45+05:45", midnight),
        ("2026-11-29T23:59:60Z", midnight),
        ("2000-03-01T12:34:56Z", 951_914_096_000),
        ("1970-01-01T00:00Z", 0),
        ("1969-12-31T23:59:59Z", -1000),
    ])
    func moments(text: String, milliseconds: Int64) throws {
        #expect(try SinceTime(parsing: text) == .at(milliseconds: milliseconds))
    }

    @Test("A bare date is midnight UTC", arguments: [
        ("2026-11-30", midnight),
        ("2026-12-01", 1_796_083_200_000),
        ("2024-02-29", 1_709_164_800_000),
        ("1970-01-01", 0),
    ])
    func dates(text: String, milliseconds: Int64) throws {
        #expect(try SinceTime(parsing: text) == .at(milliseconds: milliseconds))
    }

    @Test("Spans of seconds, minutes, hours and days, alone or combined largest first, count back from now", arguments: [
        ("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86_400), ("1h30m", 5400), ("1d2h3m4s", 93_784), ("0s", 0), ("90m", 5400),
    ] as [(String, Int64)])
    func spans(text: String, seconds: Int64) throws {
        let since = try SinceTime(parsing: text)
        #expect(since == .ago(.seconds(seconds)))
        #expect(since.milliseconds(now: Self.midnight) == Self.midnight - seconds * 1000)
    }

    @Test("A moment is the same whatever the time now")
    func momentIgnoresNow() throws {
        #expect(try SinceTime(parsing: "2026-11-30").milliseconds(now: 42) == Self.midnight)
    }

    @Test("Anything else is refused with a message quoting it, saying what is wrong and which forms are accepted", arguments: [
        ("10x", "'x' is not a unit"),
        ("-5m", "a span has no sign"),
        ("+5m", "a span has no sign"),
        ("", "it is empty"),
        ("2026-13-01", "there is no month 13"),
        ("2026-00-10", "there is no month 0"),
        ("2026-02-29", "month 2 of 2026 has no day 29"),
        ("2026-11-31", "month 11 of 2026 has no day 31"),
        ("2026-11-30T00:00", "a time of day needs a zone"),
        ("2026-11-30T24:00Z", "there is no hour 24"),
        ("2026-11-30T00:60Z", "there is no minute 60"),
        ("2026-11-30T00:00:61Z", "there is no second 61"),
        ("2026-11-30T00:00+24:00", "there is no zone offset"),
        ("2026-11-30T00:00:00.Z", "fraction"),
        ("2026-11-30T00:00Z+", "unexpected '+'"),
        ("2026-11-30T0:00Z", "hour"),
        ("2026-11-3", "day"),
        ("2026-11-30X", "expected 'T'"),
        ("10", "has no unit"),
        ("10M", "'M' is not a unit"),
        ("10 m", "' ' is not a unit"),
        ("30m1h", "largest first"),
        ("1h1h", "largest first"),
        ("1h30", "has no unit"),
        ("99999999999999999999d", "too long"),
        ("106751991168d", "too long"),
        ("yesterday", "neither a date nor a number"),
        (" 10m", "neither a date nor a number"),
    ])
    func rejections(text: String, reason: String) {
        #expect {
            _ = try SinceTime(parsing: text)
        } throws: { error in
            guard let error = error as? SinceTimeError else { return false }
            return error.text == text && error.reason.contains(reason)
                && error.description.contains("'\(text)'") && error.description.contains("2026-11-30T00:00Z") && error.description.contains("10m")
        }
    }

    @Test("Days since the epoch follow the Gregorian calendar across leap years and centuries", arguments: [
        (1970, 1, 1, 0), (2000, 3, 1, 11_017), (1900, 3, 1, -25_508), (1600, 1, 1, -135_140),
    ] as [(Int64, Int64, Int64, Int64)])
    func daysSinceEpoch(year: Int64, month: Int64, day: Int64, days: Int64) {
        #expect(SinceTime.daysSinceEpoch(year: year, month: month, day: day) == days)
    }
}
