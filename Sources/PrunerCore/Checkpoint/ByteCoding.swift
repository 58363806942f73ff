// Little-endian byte writer/reader and CRC-32 for the checkpoint format.

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as in zlib and PNG.
public enum CRC32 {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}

/// Appends little-endian values to a byte array.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func int(_ v: Int) { u64(UInt64(bitPattern: Int64(v))) }
    mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }
    mutating func f32(_ v: Float) { u32(v.bitPattern) }
    mutating func f64(_ v: Double) { u64(v.bitPattern) }
    mutating func string(_ s: String) { let u = Array(s.utf8); int(u.count); bytes.append(contentsOf: u) }
    mutating func floats(_ a: [Float]) { int(a.count); for x in a { f32(x) } }
    mutating func doubles(_ a: [Double]) { int(a.count); for x in a { f64(x) } }
    mutating func ints(_ a: [Int]) { int(a.count); for x in a { int(x) } }
    mutating func u32s(_ a: [UInt32]) { int(a.count); for x in a { u32(x) } }
    mutating func halves(_ a: [Float16]) { int(a.count); for x in a { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } } }
    mutating func rng(_ r: Xoshiro256StarStar) { u64(r.s.0); u64(r.s.1); u64(r.s.2); u64(r.s.3) }
}

/// Reads little-endian values; every read checks bounds and throws `.truncated`.
struct ByteReader {
    let bytes: [UInt8]
    var offset: Int
    let end: Int

    init(_ bytes: [UInt8], from offset: Int = 0, to end: Int? = nil) {
        self.bytes = bytes; self.offset = offset; self.end = end ?? bytes.count
    }

    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, end - offset >= n else { throw CheckpointError.truncated }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }
    mutating func u8() throws -> UInt8 { try take(1).first! }
    mutating func u32() throws -> UInt32 { try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) } }
    mutating func u64() throws -> UInt64 { try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) } }
    mutating func int() throws -> Int { Int(Int64(bitPattern: try u64())) }
    mutating func bool() throws -> Bool { try u8() != 0 }
    mutating func f32() throws -> Float { Float(bitPattern: try u32()) }
    mutating func f64() throws -> Double { Double(bitPattern: try u64()) }
    mutating func count(elementSize: Int) throws -> Int {
        let n = try int()
        guard n >= 0, n <= (end - offset) / max(elementSize, 1) else { throw CheckpointError.truncated }
        return n
    }
    mutating func string() throws -> String { String(decoding: try take(try count(elementSize: 1)), as: UTF8.self) }
    mutating func floats() throws -> [Float] { let n = try count(elementSize: 4); return try (0..<n).map { _ in try f32() } }
    mutating func doubles() throws -> [Double] { let n = try count(elementSize: 8); return try (0..<n).map { _ in try f64() } }
    mutating func ints() throws -> [Int] { let n = try count(elementSize: 8); return try (0..<n).map { _ in try int() } }
    mutating func u32s() throws -> [UInt32] { let n = try count(elementSize: 4); return try (0..<n).map { _ in try u32() } }
    mutating func halves() throws -> [Float16] {
        let n = try count(elementSize: 2)
        return try (0..<n).map { _ in let b = try take(2); return Float16(bitPattern: UInt16(b.first!) | UInt16(b.last!) << 8) }
    }
    mutating func rng() throws -> Xoshiro256StarStar { Xoshiro256StarStar(state: (try u64(), try u64(), try u64(), try u64())) }
}
