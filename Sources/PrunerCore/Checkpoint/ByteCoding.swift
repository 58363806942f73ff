// Little-endian byte writer/reader and CRC-32 for the checkpoint format.
import CZlib

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as in zlib and PNG.
public enum CRC32 {
    /// The CRC-32 of `bytes`, computed by zlib's `crc32_z`.
    ///
    /// Why zlib: a byte loop in Swift, called from another module through this
    /// generic, was 75% of fuzz-checkpoint's time per input (unspecialised
    /// witness calls, then libFuzzer's tracing of every comparison in the loop);
    /// zlib is not instrumented, is word-at-a-time, and a 40 MB checkpoint at
    /// k = 500 is checksummed twice per write and once per restore.
    public static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        if let crc = bytes.withContiguousStorageIfAvailable({ buffer in
            UInt32(truncatingIfNeeded: crc32_z(0, buffer.baseAddress, buffer.count))
        }) {
            return crc
        }
        return checksum(Array(bytes))
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
    mutating func floats(_ a: [Float]) { bulk(a) }
    mutating func doubles(_ a: [Double]) { bulk(a) }
    mutating func ints(_ a: [Int]) { int(a.count); for x in a { int(x) } }
    mutating func u32s(_ a: [UInt32]) { bulk(a) }
    mutating func halves(_ a: [Float16]) { bulk(a) }

    /// A counted array of fixed-size values, appended as one copy of its
    /// (little-endian: see `ByteReader.bulk`) bytes: the same bytes as value by value.
    private mutating func bulk<T: BitwiseCopyable>(_ a: [T]) {
        int(a.count)
        a.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }
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
    mutating func floats() throws -> [Float] { try bulk(Float.self) }
    mutating func doubles() throws -> [Double] { try bulk(Double.self) }
    mutating func ints() throws -> [Int] { let n = try count(elementSize: 8); return try (0..<n).map { _ in try int() } }
    mutating func u32s() throws -> [UInt32] { try bulk(UInt32.self) }
    mutating func halves() throws -> [Float16] { try bulk(Float16.self) }

    /// A counted array of little-endian fixed-size values (histograms, reservoirs,
    /// centroids, held vectors: nearly all of a checkpoint's bytes), copied at once.
    ///
    /// Why one copy: element by element, each value went through `take` and a
    /// reduce over its bytes; restoring a 50 KB checkpoint then cost more than the
    /// rest of fuzz-checkpoint's work per input together. The count is checked
    /// against the bytes left first, so the copy stays inside the payload.
    private mutating func bulk<T: BitwiseCopyable>(_ type: T.Type) throws -> [T] {
        let size = MemoryLayout<T>.size
        let n = try count(elementSize: size)
        let start = offset
        offset += n * size
        #if _endian(little)
        return [T](unsafeUninitializedCapacity: n) { out, initialized in
            bytes.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start..<(start + n * size)]))
            }
            initialized = n
        }
        #else
        #error("checkpoints are little-endian; this reader copies them as they are")
        #endif
    }
    mutating func rng() throws -> Xoshiro256StarStar { Xoshiro256StarStar(state: (try u64(), try u64(), try u64(), try u64())) }
}
