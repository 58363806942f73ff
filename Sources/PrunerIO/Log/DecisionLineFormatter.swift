// One decision log line, written byte by byte into a reused buffer:
// {"ts":"2026-11-26T15:58:52.123Z","src":"stdin","seq":0,"id":"abc","decision":"keep",
//  "reason":"within_quota","cluster":17,"dist":0.412345,"threshold":0.398765}
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
    /// Where each line is written before one bulk append to the caller's buffer.
    /// A class, so a formatter must not be shared between threads (each
    /// formatting job makes its own).
    private let line = LineScratch()

    public init() {}

    /// Appends one newline-terminated log line to `buffer`.
    ///
    /// The line is written through a pointer into the buffer's spare capacity,
    /// reserved once for its worst case, and the buffer grows once: fifteen
    /// `Array.append` calls per line (each a uniqueness and capacity check) were
    /// most of a line's ~0.4 µs.
    ///
    /// - Parameters:
    ///   - ts: wall-clock time of the decision, milliseconds since the Unix epoch (UTC).
    ///   - source: the input's name as *already escaped* JSON string contents
    ///     (see ``jsonEscaped(_:)``), so the daemon escapes each input name once.
    ///   - seq: the record's index within its input.
    ///   - id: the record's id as sent; escaped here.
    public mutating func append(
        ts: Int64, source: [UInt8], seq: UInt64, id: String, decision: Decision, to buffer: inout [UInt8]
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
        var id = id
        var reason = decision.reason.logValue
        // Fixed text ≤ 130 bytes, numbers ≤ 20 + 11 + 2 × 24; an id byte escapes to ≤ 6.
        let length = line.withCapacity(prefix.count + reason.utf8.count + 250 + 6 * id.utf8.count) { start in
            var out = LineCursor(start)
            prefix.withUnsafeBytes { out.write($0) }
            out.writeDecimal(seq)
            out.write(Fragments.id)
            id.withUTF8 { out.writeEscaped($0) }
            out.write(Fragments.decision)
            out.write(Fragments.verdict(decision.verdict))
            out.write(Fragments.reason)
            reason.withUTF8 { out.write(UnsafeRawBufferPointer($0)) }
            out.write(Fragments.cluster)
            if let cluster = decision.cluster {
                if cluster < 0 { out.write(UInt8(ascii: "-")) }
                out.writeDecimal(UInt64(cluster.magnitude))
            } else {
                out.write(Fragments.null)
            }
            out.write(Fragments.dist)
            out.writeFixed6(decision.distance)
            out.write(Fragments.threshold)
            out.writeFixed6(decision.threshold)
            out.write(Fragments.end)
            return out.position - start
        }
        buffer.append(contentsOf: UnsafeBufferPointer(start: line.bytes, count: length))
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


extension Array where Element == UInt8 {
    /// Appends a literal's UTF-8 bytes. A `StaticString` lives in the binary:
    /// no reference counting per append, unlike a `static let` array.
    @inline(__always)
    mutating func append(fragment: StaticString) {
        fragment.withUTF8Buffer { append(contentsOf: $0) }
    }
}

/// A growable byte buffer for one line (grows to the longest line's worst case, never shrinks).
private final class LineScratch {
    private(set) var bytes: UnsafeMutablePointer<UInt8>
    private var capacity: Int

    init() {
        capacity = 1024
        bytes = .allocate(capacity: capacity)
    }

    deinit { bytes.deallocate() }

    /// Calls `body` with room for `count` bytes; `body` returns how many it wrote.
    func withCapacity(_ count: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) -> Int {
        if count > capacity {
            bytes.deallocate()
            capacity = max(count, 2 * capacity)
            bytes = .allocate(capacity: capacity)
        }
        let written = body(bytes)
        precondition(written <= count, "a decision line outgrew its worst case")
        return written
    }
}

/// Writes a line through a raw pointer: the caller (``LineScratch``) guarantees room.
/// The only unchecked writes of the log; every length is bounded by the worst case
/// computed in `append(ts:source:seq:id:decision:to:)`.
private struct LineCursor {
    private(set) var position: UnsafeMutablePointer<UInt8>

    init(_ start: UnsafeMutablePointer<UInt8>) { position = start }

    @inline(__always)
    mutating func write(_ byte: UInt8) {
        position.pointee = byte
        position += 1
    }

    @inline(__always)
    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        UnsafeMutableRawPointer(position).copyMemory(from: base, byteCount: bytes.count)
        position += bytes.count
    }

    @inline(__always)
    mutating func write(_ fragment: StaticString) {
        write(UnsafeRawBufferPointer(start: fragment.utf8Start, count: fragment.utf8CodeUnitCount))
    }

    /// JSON string contents: `"` and `\` backslash-escaped, control characters as `\u00XX`.
    mutating func writeEscaped(_ bytes: UnsafeBufferPointer<UInt8>) {
        var plain = true
        for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            plain = false
            break
        }
        if plain {
            write(UnsafeRawBufferPointer(bytes))
            return
        }
        for byte in bytes {
            if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                write(byte)
            } else if byte >= 0x20 {
                write(UInt8(ascii: "\\"))
                write(byte)
            } else {
                write(Fragments.unicodeEscape)
                write(hexDigit(byte >> 4))
                write(hexDigit(byte & 15))
            }
        }
    }

    /// The decimal digits of `value` (at most 20).
    mutating func writeDecimal(_ value: UInt64) {
        if value < 10 {
            write(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits = 0
        var v = value
        while v > 0 { digits += 1; v /= 10 }
        v = value
        for i in stride(from: digits - 1, through: 0, by: -1) {
            position[i] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
        }
        position += digits
    }

    /// `value` with exactly 6 digits after the point, as C's `%.6f` would (round
    /// half to even on the exact value: a Float times 10⁶ fits a Double's 53 bits),
    /// or `null` when absent or not finite; at most 24 bytes (a magnitude past
    /// 9·10⁹ falls back to its description, which is shorter).
    mutating func writeFixed6(_ value: Float?) {
        guard let value, value.isFinite else {
            write(Fragments.null)
            return
        }
        let scaled = (Double(value.magnitude) * 1_000_000).rounded(.toNearestOrEven)
        guard scaled < 9e15 else {
            var text = value.description
            text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
            return
        }
        if value.sign == .minus { write(UInt8(ascii: "-")) }
        let micro = UInt64(scaled)
        writeDecimal(micro / 1_000_000)
        var fraction = micro % 1_000_000
        write(UInt8(ascii: "."))
        for i in stride(from: 5, through: 0, by: -1) {
            position[i] = UInt8(ascii: "0") + UInt8(fraction % 10)
            fraction /= 10
        }
        position += 6
    }
}
