import Foundation

/// A UTC calendar date computed with integer arithmetic. It is called on every request (the month of a quota,
/// the day of a usage roll-up), where `Calendar.dateComponents` and `String(format:)` cost tens of
/// microseconds each.
public struct CivilDate: Equatable, Sendable {
    public let year: Int
    public let month: Int
    public let day: Int

    /// The UTC date of a moment given in milliseconds since 1970 (days from the civil calendar's epoch, by
    /// Howard Hinnant's `civil_from_days`; proleptic Gregorian).
    public init(unixMs: Int64) {
        let msPerDay: Int64 = 86_400_000
        // Floor division, so that moments before 1970 fall on the right day.
        let days = Int(unixMs >= 0 ? unixMs / msPerDay : (unixMs - msPerDay + 1) / msPerDay)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// Milliseconds since 1970 at the start (UTC) of a `YYYY-MM-DD` day; nil for anything else (Hinnant's
    /// `days_from_civil`).
    public static func unixMs(ofDay text: String) -> Int64? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2, let y0 = Int(parts[0]), let m = Int(parts[1]),
            let d = Int(parts[2]), (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Int64(days) * 86_400_000
    }

    public init(_ date: Date) {
        self.init(unixMs: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// `YYYY-MM`, e.g. `2026-11`.
    public var monthString: String {
        // Every request's limits ask for the month, twice: years of four digits are written byte by byte into a
        // small string (no allocation), the rest are padded as the day is.
        guard (0...9999).contains(year), (1...12).contains(month) else { return Self.padded(year, 4) + "-" + Self.padded(month, 2) }
        return String(unsafeUninitializedCapacity: 7) { bytes in
            let zero = UInt8(ascii: "0")
            bytes[0] = zero + UInt8(year / 1000)
            bytes[1] = zero + UInt8(year / 100 % 10)
            bytes[2] = zero + UInt8(year / 10 % 10)
            bytes[3] = zero + UInt8(year % 10)
            bytes[4] = UInt8(ascii: "-")
            bytes[5] = zero + UInt8(month / 10)
            bytes[6] = zero + UInt8(month % 10)
            return 7
        }
    }

    /// `YYYY-MM-DD`, e.g. `2026-11-29`.
    public var dayString: String { monthString + "-" + Self.padded(day, 2) }

    private static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(abs(value))
        let zeros = String(repeating: "0", count: max(0, width - digits.count))
        return (value < 0 ? "-" : "") + zeros + digits
    }
}
