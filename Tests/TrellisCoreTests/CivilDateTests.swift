import Foundation
import Testing

@testable import TrellisCore

@Suite("CivilDate")
struct CivilDateTests {
    private static func calendarDay(_ ms: Int64) -> (Int, Int, Int) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .gmt
        let c = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(ms) / 1000))
        return (c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }

    @Test("agrees with Foundation's Gregorian calendar in UTC, around day and month boundaries and at random moments")
    func agreesWithCalendar() {
        var moments: [Int64] = [0, -1, 1, 86_399_999, 86_400_000, -86_400_000, -86_400_001]
        // Month and year boundaries, leap days (2000, 2024, 2100 not a leap year), each ±1 ms.
        for (y, m, d) in [(2000, 2, 29), (2000, 3, 1), (2024, 2, 29), (2024, 3, 1), (2100, 2, 28), (2100, 3, 1), (2026, 12, 31), (2027, 1, 1), (1969, 12, 31)] {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC") ?? .gmt
            guard let date = calendar.date(from: DateComponents(year: y, month: m, day: d)) else {
                Issue.record("no date for \(y)-\(m)-\(d)")
                continue
            }
            let ms = Int64(date.timeIntervalSince1970 * 1000)
            moments += [ms - 1, ms, ms + 1]
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 { moments.append(Int64.random(in: -2_208_988_800_000...7_258_118_400_000, using: &generator)) }
        for ms in moments {
            let civil = CivilDate(unixMs: ms)
            let (y, m, d) = Self.calendarDay(ms)
            #expect(civil == CivilDate(unixMs: ms))
            #expect((civil.year, civil.month, civil.day) == (y, m, d), "at \(ms) ms")
            #expect(civil.monthString == String(format: "%04d-%02d", y, m), "at \(ms) ms")
        }
    }

    @Test("formats zero-padded months and days")
    func formats() {
        let date = CivilDate(unixMs: 1_767_225_600_000)  // 2026-01-01T00:00:00Z
        #expect(date.monthString == "2026-01")
        #expect(date.dayString == "2026-01-01")
        #expect(CivilDate(unixMs: 1_796_083_199_999).dayString == "2026-11-30")
        #expect(CivilDate(unixMs: -1).dayString == "1969-12-31")
        // Years of fewer than four digits are padded; years past 9999 keep all their digits.
        #expect(CivilDate.unixMs(ofDay: "0999-05-17").map { CivilDate(unixMs: $0).monthString } == "0999-05")
        #expect(CivilDate.unixMs(ofDay: "0007-10-01").map { CivilDate(unixMs: $0).dayString } == "0007-10-01")
        #expect(CivilDate(unixMs: 253_402_300_800_000).monthString == "10000-01")
    }
}
