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

    /// A deterministic unit-ish vector of dimension `d`.
    static func vector(_ seed: Int, dimension d: Int = 8) -> [Float] {
        (0..<d).map { Float(sin(Double(seed * 31 + $0 * 7))) }
    }
}
