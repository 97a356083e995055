/// Which dates of one year a direction's visits fell on, at the precision each was given: a bit per
/// day of the year, one per month (for visits dated to the month), one for the year and one for the
/// decade (the year of a decade-dated visit is the decade's first). 48 bytes per year and direction
/// that had a visit, however many visits: what the first and last visits, the gaps between visits
/// and "the last visit before a date" are computed from without keeping the events.
public struct VisitDays: Hashable, Sendable {
    /// The bit a date sets: 0–365 a day of the year, 366–377 a month, 378 the year, 379 the decade.
    public typealias Mark = Int

    public static let monthBase = 366, yearMark = 378, decadeMark = 379
    public static let wordCount = 6

    public private(set) var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)

    public init() {}

    /// The year and mark of a visit's date: its start (or its end when only that is known).
    public static func mark(of date: EDTFDate) -> (year: Int, mark: Mark) {
        let day = (date.start ?? date.end)!
        return (day.year, mark(of: day))
    }

    public static func mark(of date: PartialDate) -> Mark {
        if date.isDecade { return decadeMark }
        guard let month = date.month else { return yearMark }
        guard let day = date.day else { return monthBase + month - 1 }
        let leap = month > 2 && PartialDate.daysIn(month: 2, year: date.year) == 29 ? 1 : 0
        return daysBeforeMonth[month &- 1] &+ day &- 1 &+ leap
    }

    /// Days of a common year before each month.
    private static let daysBeforeMonth = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]

    /// The date a mark stands for in `year`.
    public static func date(year: Int, mark: Mark) -> PartialDate? {
        switch mark {
        case decadeMark: return PartialDate(decade: year)
        case yearMark: return PartialDate(year: year)
        case monthBase..<yearMark: return PartialDate(year: year, month: mark - monthBase + 1)
        case 0..<monthBase:
            let (y, m, d) = DayRange.civil(DayRange.dayNumber(year: year, month: 1, day: 1) + mark)
            return y == year ? PartialDate(year: y, month: m, day: d) : nil
        default: return nil
        }
    }

    public var isEmpty: Bool { words == (0, 0, 0, 0, 0, 0) }

    @inline(__always)
    public mutating func insert(_ mark: Mark) {
        guard mark >= 0, mark <= Self.decadeMark else { return }
        let bit = UInt64(1) << UInt64(mark & 63)
        switch mark >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        case 3: words.3 |= bit
        case 4: words.4 |= bit
        default: words.5 |= bit
        }
    }

    public mutating func formUnion(_ other: VisitDays) {
        words.0 |= other.words.0; words.1 |= other.words.1; words.2 |= other.words.2
        words.3 |= other.words.3; words.4 |= other.words.4; words.5 |= other.words.5
    }

    /// The words in order, for storage.
    public var wordArray: [UInt64] { [words.0, words.1, words.2, words.3, words.4, words.5] }

    public init?(wordArray: [UInt64]) {
        guard wordArray.count == Self.wordCount, wordArray[5] >> UInt64(Self.decadeMark - 320 + 1) == 0 else { return nil }
        words = (wordArray[0], wordArray[1], wordArray[2], wordArray[3], wordArray[4], wordArray[5])
    }

    /// Every mark set, in increasing order.
    public var marks: [Mark] {
        var result: [Mark] = []
        for (index, word) in wordArray.enumerated() {
            var rest = word
            while rest != 0 {
                result.append(index * 64 + rest.trailingZeroBitCount)
                rest &= rest - 1
            }
        }
        return result
    }

    /// Every date set in `year`, each with the days it covers.
    public func dates(year: Int) -> [PartialDate] { marks.compactMap { VisitDays.date(year: year, mark: $0) } }

    public static func == (lhs: VisitDays, rhs: VisitDays) -> Bool { lhs.words == rhs.words }
    public func hash(into hasher: inout Hasher) { for word in wordArray { hasher.combine(word) } }
}
