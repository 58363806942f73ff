// A strict RFC 8259 scanner over one line's bytes: whitespace, strings (with
// every escape), numbers and skipping of arbitrary values. The JSON record
// parser is built on it; this is the one place JSON bytes are read by pointer.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A position in one JSON Lines line. Every method returns `nil`/`false` on
/// malformed input rather than throwing: a bad line is a rejection, not an error.
struct JSONCursor {
    let bytes: UnsafePointer<UInt8>
    let end: Int
    var position = 0

    /// Nesting allowed inside skipped values; bounds recursion on hostile input.
    static let maxDepth = 256

    init(_ line: UnsafeRawBufferPointer) {
        // A zero-length line still needs a valid pointer to compare against.
        bytes = line.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? emptyLine
        end = line.count
    }

    var atEnd: Bool { position >= end }
    var peek: UInt8? { position < end ? bytes[position] : nil }

    mutating func skipWhitespace() {
        while position < end {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    /// Consumes `byte` (after whitespace) if it is next.
    mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard position < end, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    // MARK: Strings

    /// Reads a string starting at `"` and appends its unescaped UTF-8 to `out`.
    /// Returns false on malformed JSON. `lossless` is cleared when a lone
    /// surrogate escape had to be replaced by U+FFFD (the string is then not
    /// what the producer meant, which matters for ids).
    mutating func readString(into out: inout [UInt8], lossless: inout Bool) -> Bool {
        guard position < end, bytes[position] == UInt8(ascii: "\"") else { return false }
        position += 1
        while position < end {
            // Copy a run of plain bytes at once.
            let runStart = position
            while position < end {
                let b = bytes[position]
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 { break }
                position += 1
            }
            if position > runStart {
                out.append(contentsOf: UnsafeBufferPointer(start: bytes + runStart, count: position - runStart))
            }
            guard position < end else { return false }
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                position += 1
                return true
            }
            if b < 0x20 { return false }
            // Escape.
            position += 1
            guard position < end else { return false }
            let e = bytes[position]
            position += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard let unit = readHex4() else { return false }
                var scalar = UInt32(unit)
                if unit >= 0xD800 && unit < 0xDC00 {
                    // A high surrogate must be followed by an escaped low one.
                    if position + 6 <= end, bytes[position] == UInt8(ascii: "\\"),
                       bytes[position + 1] == UInt8(ascii: "u") {
                        let save = position
                        position += 2
                        guard let low = readHex4() else { return false }
                        if low >= 0xDC00 && low < 0xE000 {
                            scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                        } else {
                            position = save
                            scalar = 0xFFFD
                            lossless = false
                        }
                    } else {
                        scalar = 0xFFFD
                        lossless = false
                    }
                } else if unit >= 0xDC00 && unit < 0xE000 {
                    scalar = 0xFFFD
                    lossless = false
                }
                appendUTF8(scalar, to: &out)
            default:
                return false
            }
        }
        return false
    }

    /// Skips a string starting at `"`, checking its escapes.
    mutating func skipString() -> Bool {
        guard position < end, bytes[position] == UInt8(ascii: "\"") else { return false }
        position += 1
        while position < end {
            let b = bytes[position]
            position += 1
            if b == UInt8(ascii: "\"") { return true }
            if b < 0x20 { return false }
            if b == UInt8(ascii: "\\") {
                guard position < end else { return false }
                let e = bytes[position]
                position += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    guard readHex4() != nil else { return false }
                default:
                    return false
                }
            }
        }
        return false
    }

    private mutating func readHex4() -> UInt16? {
        guard position + 4 <= end else { return nil }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let c = bytes[position]
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
            position += 1
        }
        return value
    }

    // MARK: Numbers

    /// Reads a JSON number at the cursor, correctly rounded to Float
    /// (overflow gives ±inf, as strtof does). `nil` if no valid number is here.
    mutating func readNumber(scratch: inout [CChar]) -> Float? {
        let start = position
        guard let value = scanNumber(scratch: &scratch) else {
            position = start
            return nil
        }
        return value
    }

    private mutating func scanNumber(scratch: inout [CChar]) -> Float? {
        let start = position
        var negative = false
        if position < end && bytes[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        // Integer part: 0 or [1-9][0-9]*.
        guard position < end, isDigit(bytes[position]) else { return nil }
        var mantissa: UInt64 = 0
        var significant = 0   // digits accumulated into mantissa (after leading zeros)
        var dropped = false   // a non-zero significant digit did not fit
        var exponent = 0      // decimal exponent adjustment for mantissa
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            while position < end, isDigit(bytes[position]) {
                accumulate(bytes[position], &mantissa, &significant, &dropped, &exponent, fractional: false)
                position += 1
            }
        }
        if position < end && bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard position < end, isDigit(bytes[position]) else { return nil }
            while position < end, isDigit(bytes[position]) {
                accumulate(bytes[position], &mantissa, &significant, &dropped, &exponent, fractional: true)
                position += 1
            }
        }
        var explicitExponent = 0
        var hugeExponent = false
        if position < end && (bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")) {
            position += 1
            var expNegative = false
            if position < end && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")) {
                expNegative = bytes[position] == UInt8(ascii: "-")
                position += 1
            }
            guard position < end, isDigit(bytes[position]) else { return nil }
            while position < end, isDigit(bytes[position]) {
                if explicitExponent < 100_000 {
                    explicitExponent = explicitExponent * 10 + Int(bytes[position] - UInt8(ascii: "0"))
                } else {
                    hugeExponent = true
                }
                position += 1
            }
            if expNegative { explicitExponent = -explicitExponent }
        }
        if !dropped && !hugeExponent {
            if let fast = Self.fastFloat(mantissa: mantissa, exponent: exponent + explicitExponent, negative: negative) {
                return fast
            }
        }
        // Slow path: glibc's strtof is correctly rounded (and we never call setlocale, so "." is the point).
        let length = position - start
        if scratch.count < length + 1 { scratch = [CChar](repeating: 0, count: length + 1) }
        return scratch.withUnsafeMutableBufferPointer { buffer -> Float in
            for i in 0..<length { buffer[i] = CChar(bitPattern: bytes[start + i]) }
            buffer[length] = 0
            return strtof(buffer.baseAddress!, nil)
        }
    }

    @inline(__always)
    private func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }

    @inline(__always)
    private func accumulate(
        _ digit: UInt8, _ mantissa: inout UInt64, _ significant: inout Int, _ dropped: inout Bool,
        _ exponent: inout Int, fractional: Bool
    ) {
        let d = UInt64(digit - UInt8(ascii: "0"))
        if significant == 0 && d == 0 {
            // Leading zero: only shifts the exponent when after the point.
            if fractional { exponent -= 1 }
            return
        }
        if significant < 19 {
            mantissa = mantissa * 10 + d
            significant += 1
            if fractional { exponent -= 1 }
        } else {
            if d != 0 { dropped = true }
            if !fractional { exponent += 1 }
        }
    }

    private static let powersOfTen: [Double] = (0...22).map { exp10Exact($0) }

    private static func exp10Exact(_ n: Int) -> Double {
        var value = 1.0
        for _ in 0..<n { value *= 10 }  // exact up to 10^22
        return value
    }

    /// Clinger's fast path: m·10^e is correctly rounded to Double when
    /// m < 2^53 and |e| ≤ 22. Rounding that Double to Float is then the correct
    /// rounding of the decimal unless the Double is exactly halfway between two
    /// Floats (double rounding), which we detect and leave to strtof.
    private static func fastFloat(mantissa: UInt64, exponent: Int, negative: Bool) -> Float? {
        guard mantissa < (1 << 53), exponent >= -22, exponent <= 22 else { return nil }
        var d = Double(mantissa)
        d = exponent < 0 ? d / powersOfTen[-exponent] : d * powersOfTen[exponent]
        let f = Float(d)
        let back = Double(f)
        if back != d && f.isFinite {
            let neighbour = d > back ? Double(f.nextUp) : Double(f.nextDown)
            if (back + neighbour) / 2 == d { return nil }
        }
        return negative ? -f : f
    }

    // MARK: Skipping values

    /// Skips any JSON value (object, array, string, number, literal).
    mutating func skipValue(depth: Int = 0) -> Bool {
        skipWhitespace()
        guard position < end, depth < Self.maxDepth else { return false }
        switch bytes[position] {
        case UInt8(ascii: "\""):
            return skipString()
        case UInt8(ascii: "{"):
            position += 1
            if consume(UInt8(ascii: "}")) { return true }
            repeat {
                skipWhitespace()
                guard skipString(), consume(UInt8(ascii: ":")), skipValue(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            position += 1
            if consume(UInt8(ascii: "]")) { return true }
            repeat {
                guard skipValue(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "]"))
        case UInt8(ascii: "t"): return skipLiteral("true")
        case UInt8(ascii: "f"): return skipLiteral("false")
        case UInt8(ascii: "n"): return skipLiteral("null")
        default:
            return skipNumber()
        }
    }

    /// Skips a number, checking its grammar, without converting it.
    mutating func skipNumber() -> Bool {
        if position < end && bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < end, isDigit(bytes[position]) else { return false }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            while position < end, isDigit(bytes[position]) { position += 1 }
        }
        if position < end && bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard position < end, isDigit(bytes[position]) else { return false }
            while position < end, isDigit(bytes[position]) { position += 1 }
        }
        if position < end && (bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")) {
            position += 1
            if position < end && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")) {
                position += 1
            }
            guard position < end, isDigit(bytes[position]) else { return false }
            while position < end, isDigit(bytes[position]) { position += 1 }
        }
        return true
    }

    mutating func skipLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard position + count <= end else { return false }
        let text = literal.utf8Start
        for i in 0..<count where bytes[position + i] != text[i] { return false }
        position += count
        return true
    }
}

/// Appends the UTF-8 encoding of a Unicode scalar value.
func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
    switch scalar {
    case ..<0x80:
        out.append(UInt8(scalar))
    case ..<0x800:
        out.append(UInt8(0xC0 | scalar >> 6))
        out.append(UInt8(0x80 | scalar & 0x3F))
    case ..<0x10000:
        out.append(UInt8(0xE0 | scalar >> 12))
        out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
        out.append(UInt8(0x80 | scalar & 0x3F))
    default:
        out.append(UInt8(0xF0 | scalar >> 18))
        out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
        out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
        out.append(UInt8(0x80 | scalar & 0x3F))
    }
}

/// Backing for empty lines so the cursor's pointer is never nil.
private nonisolated(unsafe) let emptyLine = UnsafePointer<UInt8>(UnsafeMutablePointer<UInt8>.allocate(capacity: 1))
