// RFC 3339 UTC timestamps with milliseconds ("2026-11-26T15:58:52.123Z") from
// Unix milliseconds, without Foundation: the civil date comes from Howard
// Hinnant's days-to-civil algorithm, and the date part is cached per day.

/// Writes `YYYY-MM-DDThh:mm:ss.mmmZ`, caching the date of the last day seen.
struct TimestampFormatter {
    private var cachedDay: Int64 = .min
    private var cachedDate: [UInt8] = []

    mutating func append(millisecondsSinceEpoch ms: Int64, to buffer: inout [UInt8]) {
        let msPerDay: Int64 = 86_400_000
        var day = ms / msPerDay
        var msOfDay = ms % msPerDay
        if msOfDay < 0 {
            msOfDay += msPerDay
            day -= 1
        }
        if day != cachedDay {
            cachedDay = day
            cachedDate = Self.date(daysSinceEpoch: day)
        }
        buffer.append(contentsOf: cachedDate)
        let seconds = msOfDay / 1000
        append2(seconds / 3600, &buffer)
        buffer.append(UInt8(ascii: ":"))
        append2(seconds / 60 % 60, &buffer)
        buffer.append(UInt8(ascii: ":"))
        append2(seconds % 60, &buffer)
        buffer.append(UInt8(ascii: "."))
        let millis = msOfDay % 1000
        buffer.append(UInt8(ascii: "0") + UInt8(millis / 100))
        append2(millis % 100, &buffer)
        buffer.append(UInt8(ascii: "Z"))
    }

    /// (year, month, day) of the proleptic Gregorian calendar for days since 1970-01-01.
    static func civil(daysSinceEpoch days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097                                        // [0, 146096]
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365   // [0, 399]
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)                  // [0, 365]
        let mp = (5 * doy + 2) / 153                                       // [0, 11], March-based
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// "YYYY-MM-DDT" for a day; years outside 0…9999 are written as they come (RFC 3339 cannot express them).
    private static func date(daysSinceEpoch days: Int64) -> [UInt8] {
        let (year, month, day) = civil(daysSinceEpoch: days)
        var out: [UInt8] = []
        if year < 0 { out.append(UInt8(ascii: "-")) }
        let y = year.magnitude
        if y < 1000 { out.append(contentsOf: Array(repeating: UInt8(ascii: "0"), count: y < 10 ? 3 : y < 100 ? 2 : 1)) }
        appendDecimal(y, to: &out)
        out.append(UInt8(ascii: "-"))
        append2(month, &out)
        out.append(UInt8(ascii: "-"))
        append2(day, &out)
        out.append(UInt8(ascii: "T"))
        return out
    }
}

@inline(__always)
private func append2(_ value: Int64, _ buffer: inout [UInt8]) {
    buffer.append(UInt8(ascii: "0") + UInt8(value / 10))
    buffer.append(UInt8(ascii: "0") + UInt8(value % 10))
}
