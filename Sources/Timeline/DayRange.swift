/// Calendar days as consecutive integers (proleptic Gregorian, day 0 = 1970-01-01), and the span
/// of days a date of any precision covers. Comparing two dates of different precisions is comparing
/// their spans: 1999 is before 2000-03-01 for certain, and neither before nor after 1999-06-01.
public struct DayRange: Hashable, Sendable {
    public var first: Int
    public var last: Int

    public init(first: Int, last: Int) {
        self.first = first
        self.last = last
    }

    /// The day number of a calendar date (Howard Hinnant's `days_from_civil`).
    public static func dayNumber(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The calendar date of a day number (the inverse of `dayNumber`).
    public static func civil(_ number: Int) -> (year: Int, month: Int, day: Int) {
        let z = number + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The days a date covers: one day, a month, a year or ten years.
    public init(_ date: PartialDate) {
        if let month = date.month {
            if let day = date.day {
                let number = DayRange.dayNumber(year: date.year, month: month, day: day)
                self.init(first: number, last: number)
            } else {
                let first = DayRange.dayNumber(year: date.year, month: month, day: 1)
                self.init(first: first, last: first + PartialDate.daysIn(month: month, year: date.year) - 1)
            }
        } else {
            let years = date.isDecade ? 10 : 1
            self.init(first: DayRange.dayNumber(year: date.year, month: 1, day: 1),
                      last: DayRange.dayNumber(year: date.year + years, month: 1, day: 1) - 1)
        }
    }

    /// Entirely before `other`.
    public func isBefore(_ other: DayRange) -> Bool { last < other.first }
}
