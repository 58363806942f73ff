// PRN1 records built byte by byte, including every way of getting one wrong,
// so bad-input tests state exactly which byte is bad.
import Foundation

enum Handmade {
    /// A PRN1 record; `length` overrides the computed length field.
    static func prn1(id: [UInt8], dtype: UInt8 = 1, flags: UInt8 = 0, dim: UInt16? = nil,
                     vector: [Float], score: Float? = nil, length: UInt32? = nil) -> Data {
        var body = Data([dtype, flags])
        body.append(contentsOf: withUnsafeBytes(of: (dim ?? UInt16(vector.count)).littleEndian, Array.init))
        body.append(contentsOf: withUnsafeBytes(of: UInt16(id.count).littleEndian, Array.init))
        body.append(contentsOf: id)
        for x in vector { body.append(contentsOf: withUnsafeBytes(of: x.bitPattern.littleEndian, Array.init)) }
        if let score { body.append(contentsOf: withUnsafeBytes(of: score.bitPattern.littleEndian, Array.init)) }
        var record = Data("PRN1".utf8)
        record.append(contentsOf: withUnsafeBytes(of: (length ?? UInt32(body.count)).littleEndian, Array.init))
        record.append(body)
        return record
    }

    static func prn1(_ id: String, _ vector: [Float], score: Float? = nil) -> Data {
        prn1(id: Array(id.utf8), flags: score == nil ? 0 : 1, vector: vector, score: score)
    }

    /// A deterministic pseudo-random vector (SplitMix64 of `seed`): distinct seeds give
    /// vectors far apart, unlike `vector(_:dimension:)`, whose neighbours can be near-copies.
    static func randomVector(_ seed: Int, dimension d: Int = 16) -> [Float] {
        var state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15
        return (0..<d).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Float(z >> 40) / Float(1 << 24) - 0.5
        }
    }

    /// A deterministic unit-ish vector of dimension `d`.
    static func vector(_ seed: Int, dimension d: Int = 8) -> [Float] {
        (0..<d).map { Float(sin(Double(seed * 31 + $0 * 7))) }
    }
}
