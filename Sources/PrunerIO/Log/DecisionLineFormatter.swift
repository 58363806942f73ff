// One decision log line, written byte by byte into a reused buffer:
// {"ts":"2026-11-26T15:58:52.123Z","src":"stdin","seq":0,"id":"abc","decision":"keep",
//  "reason":"within_quota","cluster":17,"dist":0.412345,"threshold":0.398765[,"score":0.31]}
// Field order is fixed: it is the log's public format, and operators diff logs.

import PrunerCore

/// Formats decision log lines (JSON Lines) without Foundation and without
/// building a String per line: the log writes hundreds of thousands a second.
public struct DecisionLineFormatter {
    private var timestamps = TimestampFormatter()
    /// `{"ts":"…","src":"…","seq":` for the last (ts, source): the daemon formats a
    /// batch with one timestamp and few sources, so most lines start with it.
    private var prefix: [UInt8] = []
    private var prefixTimestamp: Int64 = .min
    private var prefixSource: [UInt8] = []

    public init() {}

    /// Appends one newline-terminated log line to `buffer`.
    ///
    /// - Parameters:
    ///   - ts: wall-clock time of the decision, milliseconds since the Unix epoch (UTC).
    ///   - source: the input's name as *already escaped* JSON string contents
    ///     (see ``jsonEscaped(_:)``), so the daemon escapes each input name once.
    ///   - seq: the record's index within its input.
    ///   - id: the record's id as sent; escaped here.
    ///   - score: the record's `score` when it had one: written last, as `"score":x` in
    ///     the shortest form that reads back as the same float32; absent otherwise.
    public mutating func append(
        ts: Int64, source: [UInt8], seq: UInt64, id: String, decision: Decision, score: Float? = nil,
        to buffer: inout [UInt8]
    ) {
        if ts != prefixTimestamp || source != prefixSource {
            prefix.removeAll(keepingCapacity: true)
            prefix.append(fragment: Fragments.ts)
            timestamps.append(millisecondsSinceEpoch: ts, to: &prefix)
            prefix.append(fragment: Fragments.src)
            prefix.append(contentsOf: source)
            prefix.append(fragment: Fragments.seq)
            prefixTimestamp = ts
            prefixSource = source
        }
        buffer.append(contentsOf: prefix)
        appendDecimal(seq, to: &buffer)
        buffer.append(fragment: Fragments.id)
        Self.appendEscaped(id, to: &buffer)
        buffer.append(fragment: Fragments.decision)
        buffer.append(fragment: Fragments.verdict(decision.verdict))
        buffer.append(fragment: Fragments.reason)
        appendReason(decision.reason, to: &buffer)
        buffer.append(fragment: Fragments.cluster)
        if let cluster = decision.cluster {
            if cluster < 0 { buffer.append(UInt8(ascii: "-")) }
            appendDecimal(UInt64(cluster.magnitude), to: &buffer)
        } else {
            buffer.append(fragment: Fragments.null)
        }
        buffer.append(fragment: Fragments.dist)
        appendFixed6(decision.distance, to: &buffer)
        buffer.append(fragment: Fragments.threshold)
        appendFixed6(decision.threshold, to: &buffer)
        if let score {
            buffer.append(fragment: Fragments.score)
            if score.isFinite { buffer.append(contentsOf: score.description.utf8) } else { buffer.append(fragment: Fragments.null) }
        }
        buffer.append(fragment: Fragments.end)
    }

    /// `s` escaped as JSON string contents (no surrounding quotes), for
    /// callers that escape a fixed string once, like an input name.
    public static func jsonEscaped(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        appendEscaped(s, to: &out)
        return out
    }

    /// Appends `s` escaped as JSON string contents: `"` and `\` are
    /// backslash-escaped, control characters become `\u00XX`, and all other
    /// UTF-8 (always valid in a Swift String) passes through.
    public static func appendEscaped(_ s: String, to out: inout [UInt8]) {
        // Nearly every id needs no escaping: then one bulk append, not one per byte.
        let plain = s.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                return false
            }
            out.append(contentsOf: bytes)
            return true
        }
        if plain == true { return }
        for byte in s.utf8 {
            if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                out.append(byte)
            } else if byte >= 0x20 {
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            } else {
                out.append(fragment: Fragments.unicodeEscape)
                out.append(hexDigit(byte >> 4))
                out.append(hexDigit(byte & 15))
            }
        }
    }

    private func appendReason(_ reason: DecisionReason, to buffer: inout [UInt8]) {
        switch reason {
        case .withinQuota: buffer.append(fragment: Fragments.withinQuota)
        case .overQuota: buffer.append(fragment: Fragments.overQuota)
        default: buffer.append(contentsOf: reason.logValue.utf8)
        }
    }
}

/// The constant pieces of a line, encoded once.
private enum Fragments {
    static let ts: StaticString = #"{"ts":""#
    static let src: StaticString = #"","src":""#
    static let seq: StaticString = #"","seq":"#
    static let id: StaticString = #","id":""#
    static let decision: StaticString = #"","decision":""#
    static let reason: StaticString = #"","reason":""#
    static let cluster: StaticString = #"","cluster":"#
    static let dist: StaticString = #","dist":"#
    static let threshold: StaticString = #","threshold":"#
    static let score: StaticString = #","score":"#
    static let end: StaticString = "}\n"
    static let null: StaticString = "null"
    static let unicodeEscape: StaticString = #"\u00"#
    static let keep: StaticString = "keep"
    static let drop: StaticString = "drop"
    static let reject: StaticString = "reject"
    static let withinQuota: StaticString = "within_quota"
    static let overQuota: StaticString = "over_quota"

    static func verdict(_ verdict: Verdict) -> StaticString {
        switch verdict {
        case .keep: return keep
        case .drop: return drop
        case .reject: return reject
        }
    }
}

@inline(__always)
func hexDigit(_ nibble: UInt8) -> UInt8 {
    nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
}

/// Appends the decimal digits of `value`.
func appendDecimal(_ value: UInt64, to buffer: inout [UInt8]) {
    if value < 10 {
        buffer.append(UInt8(ascii: "0") + UInt8(value))
        return
    }
    var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 32 bytes of scratch, ≥ 20 digits
    withUnsafeMutableBytes(of: &digits) { scratch in
        var v = value
        var i = scratch.count
        while v > 0 {
            i -= 1
            scratch[i] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
        }
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[i...]))
    }
}

/// Appends `value` with exactly 6 digits after the point, as C's `%.6f`
/// would (round half to even on the exact value), or `null` when absent or
/// not finite. Exact because a Float times 10^6 fits a Double's 53 bits.
func appendFixed6(_ value: Float?, to buffer: inout [UInt8]) {
    guard let value, value.isFinite else {
        buffer.append(fragment: Fragments.null)
        return
    }
    let scaled = (Double(value.magnitude) * 1_000_000).rounded(.toNearestOrEven)
    guard scaled < 9e15 else {
        // Far outside any distance's range; keep the line valid JSON.
        buffer.append(contentsOf: value.description.utf8)
        return
    }
    if value.sign == .minus { buffer.append(UInt8(ascii: "-")) }
    let micro = UInt64(scaled)
    appendDecimal(micro / 1_000_000, to: &buffer)
    // ".dddddd" built in a register and appended at once (two of these per line).
    var fraction = micro % 1_000_000
    var digits: UInt64 = 0
    for _ in 0..<6 {
        digits = digits << 8 | (UInt64(ascii0) + fraction % 10)
        fraction /= 10
    }
    digits = digits << 8 | UInt64(UInt8(ascii: "."))
    withUnsafeBytes(of: digits.littleEndian) { buffer.append(contentsOf: $0.prefix(7)) }
}

private let ascii0 = UInt8(ascii: "0")

extension Array where Element == UInt8 {
    /// Appends a literal's UTF-8 bytes. A `StaticString` lives in the binary:
    /// no reference counting per append, unlike a `static let` array.
    @inline(__always)
    mutating func append(fragment: StaticString) {
        fragment.withUTF8Buffer { append(contentsOf: $0) }
    }
}
