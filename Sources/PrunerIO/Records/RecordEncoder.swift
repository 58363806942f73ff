// Records → bytes, in either wire encoding. The inverse of RecordDecoder, for
// the CLI's sample generator, tests and benchmarks (not a hot path).

/// Encodes single records as PRN1 or JSON Lines bytes.
///
/// Why it lives next to the decoder: the two must agree on every byte, and
/// tests round-trip one through the other.
public enum RecordEncoder {
    /// One PRN1 record. Elements are converted to `dtype` with round-to-nearest-even.
    /// Traps if `id` is longer than 65535 bytes or `vector` longer than 65535
    /// (the wire fields are u16); callers generating invalid records on purpose
    /// can still write any id up to that size.
    public static func prn1(id: String, vector: [Float], dtype: ElementType, score: Float?) -> [UInt8] {
        let idBytes = Array(id.utf8)
        precondition(idBytes.count <= Int(UInt16.max) && vector.count <= Int(UInt16.max), "field too large for PRN1")
        let length = 6 + idBytes.count + vector.count * dtype.size + (score == nil ? 0 : 4)
        var out: [UInt8] = []
        out.reserveCapacity(8 + length)
        out.append(contentsOf: Array("PRN1".utf8))
        appendLittleEndian(UInt32(length), to: &out)
        out.append(dtype.rawValue)
        out.append(score == nil ? 0 : 1)
        appendLittleEndian(UInt16(vector.count), to: &out)
        appendLittleEndian(UInt16(idBytes.count), to: &out)
        out.append(contentsOf: idBytes)
        for x in vector {
            switch dtype {
            case .float32: appendLittleEndian(x.bitPattern, to: &out)
            case .float16: appendLittleEndian(Float16(x).bitPattern, to: &out)
            case .bfloat16: appendLittleEndian(bfloat16Bits(x), to: &out)
            }
        }
        if let score { appendLittleEndian(score.bitPattern, to: &out) }
        return out
    }

    /// One JSON Lines record, newline-terminated. Floats are written in
    /// Swift's shortest round-trip form, so they decode to the same Float.
    /// Non-finite values (not JSON) are written as `1e999`/`-1e999` (which decode
    /// to ±inf) and NaN as `null`, so the output stays parseable JSON.
    public static func jsonLine(id: String, vector: [Float], score: Float?) -> [UInt8] {
        var out: [UInt8] = []
        out.append(contentsOf: Array(#"{"id":""#.utf8))
        DecisionLineFormatter.appendEscaped(id, to: &out)
        out.append(contentsOf: Array(#"","embedding":["#.utf8))
        for (i, x) in vector.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendJSONNumber(x, to: &out)
        }
        out.append(UInt8(ascii: "]"))
        if let score {
            out.append(contentsOf: Array(#","score":"#.utf8))
            appendJSONNumber(score, to: &out)
        }
        out.append(contentsOf: Array("}\n".utf8))
        return out
    }

    /// bfloat16 bits of `x`, rounded to nearest even; NaNs stay (quiet) NaNs.
    public static func bfloat16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(bits >> 16) | 0x0040 }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(rounded >> 16)
    }
}

private func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    var v = value.littleEndian
    withUnsafeBytes(of: &v) { out.append(contentsOf: $0) }
}

private func appendJSONNumber(_ x: Float, to out: inout [UInt8]) {
    if x.isNaN {
        out.append(contentsOf: Array("null".utf8))
    } else if x.isInfinite {
        out.append(contentsOf: Array((x < 0 ? "-1e999" : "1e999").utf8))
    } else {
        out.append(contentsOf: Array(x.description.utf8))
    }
}
