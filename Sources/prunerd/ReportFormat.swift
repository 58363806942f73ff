// Text for `prunerd report`: numbers as people read them, HTML escaping, and
// UTC dates, without Foundation.

enum ReportFormat {
    /// `value` with `digits` decimals ("0.300"); "–" for a non-finite value.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "–" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e15 else { return String(value) }
        let whole = UInt64(scaled)
        let integer = whole / UInt64(scale)
        let sign = value < 0 && whole > 0 ? "-" : ""
        guard digits > 0 else { return sign + String(integer) }
        let fraction = String(whole % UInt64(scale))
        return sign + String(integer) + "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    /// An integer with thousands separators ("1,234,567").
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// A fraction as a percentage ("30.0%").
    static func percent(_ fraction: Double, _ digits: Int = 1) -> String {
        fraction.isFinite ? fixed(fraction * 100, digits) + "%" : "–"
    }

    /// A count in few characters for axis ticks ("950", "12k", "1.5M").
    static func compact(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 1e6 { return trimmed(value / 1e6) + "M" }
        if magnitude >= 1e4 { return trimmed(value / 1e3) + "k" }
        return trimmed(value)
    }

    /// A tick label: as few decimals as the tick step needs.
    static func tick(_ value: Double, step: Double) -> String {
        if abs(value) >= 1e4 { return compact(value) }
        var digits = 0
        var unit = 1.0
        while unit > step * 1.0001 && digits < 6 {
            unit /= 10
            digits += 1
        }
        return fixed(value, digits)
    }

    private static func trimmed(_ value: Double) -> String {
        var text = fixed(value, 2)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    /// Text safe inside HTML and SVG elements and attribute values.
    static func escaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                if character.value < 0x20 && character != "\n" && character != "\t" { out += "\u{FFFD}" }
                else { out.unicodeScalars.append(character) }
            }
        }
        return out
    }

    /// `YYYY-MM-DD hh:mm:ss UTC` for Unix milliseconds.
    static func utc(millisecondsSinceEpoch ms: Int64) -> String {
        let day = ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000
        let secondOfDay = (ms - day * 86_400_000) / 1000
        let (year, month, date) = civil(daysSinceEpoch: day)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(year)-\(two(month))-\(two(date)) \(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) UTC"
    }

    /// Unix milliseconds of an RFC 3339 UTC timestamp as the decision log writes it
    /// (`2026-11-26T16:06:44.893Z`), or nil.
    static func millisecondsSinceEpoch(rfc3339 text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for i in range {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                value = value * 10 + Int64(b[i] - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var millis: Int64 = 0
        if b.count >= 23, b[19] == UInt8(ascii: "."), let fraction = number(20..<23) { millis = fraction }
        return days(year: year, month: month, day: day) * 86_400_000 + ((hour * 60 + minute) * 60 + second) * 1000 + millis
    }

    /// Howard Hinnant's days-from-civil and its inverse.
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(daysSinceEpoch days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// A duration in its natural unit for an axis title: (divisor, unit name).
    static func timeUnit(forSpan seconds: Double) -> (Double, String) {
        if seconds >= 2 * 86_400 { return (86_400, "days") }
        if seconds >= 2 * 3_600 { return (3_600, "hours") }
        if seconds >= 120 { return (60, "minutes") }
        return (1, "seconds")
    }
}
