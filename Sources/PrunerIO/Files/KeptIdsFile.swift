// The kept set as a file a training pipeline takes: the ids of kept records as
// text (one per line), or DataComp's subset file — a sorted numpy structured
// array of dtype `u8,u8` (fields f0, f1, little-endian), each pair a 32-hex-digit
// uid split as `(int(uid[:16], 16), int(uid[16:32], 16))`, as DataComp's README
// builds it for resharder.py. Also reads kept ids back out of a decision log.

/// Encoders for kept-id files, and the log-line reader behind `prunerd kept`.
public enum KeptIdsFile {
    /// Whether `path` asks for DataComp's `.npy` subset format.
    public static func wantsNPY(_ path: String) -> Bool { path.hasSuffix(".npy") }

    /// A 32-hex-digit uid as DataComp's pair (first 16 digits, last 16), or nil.
    public static func uidPair(_ id: some Collection<UInt8>) -> (UInt64, UInt64)? {
        guard id.count == 32 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in id.enumerated() {
            let digit: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt64(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt64(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            if index < 16 { high = high << 4 | digit } else { low = low << 4 | digit }
        }
        return (high, low)
    }

    /// The `.npy` bytes of kept ids (newline-separated `text`), sorted and without repeats.
    /// - Throws: ``KeptIdsError`` naming the first id that is not a 32-hex-digit uid.
    public static func npy(fromLines text: [UInt8]) throws(KeptIdsError) -> [UInt8] {
        var pairs: [(UInt64, UInt64)] = []
        var start = 0
        var line = 0
        while start < text.count {
            let end = text[start...].firstIndex(of: UInt8(ascii: "\n")) ?? text.count
            line += 1
            if end > start {
                guard let pair = uidPair(text[start..<end]) else {
                    throw KeptIdsError(id: String(decoding: text[start..<end], as: UTF8.self), line: line)
                }
                pairs.append(pair)
            }
            start = end + 1
        }
        pairs.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        var unique: [(UInt64, UInt64)] = []
        unique.reserveCapacity(pairs.count)
        for pair in pairs where unique.last.map({ $0 != pair }) ?? true { unique.append(pair) }
        var header = Array("{'descr': [('f0', '<u8'), ('f1', '<u8')], 'fortran_order': False, 'shape': (\(unique.count),), }".utf8)
        let unpadded = 10 + header.count + 1
        header.append(contentsOf: Array(repeating: UInt8(ascii: " "), count: (64 - unpadded % 64) % 64))
        header.append(UInt8(ascii: "\n"))
        var out = NPYHeader.magic + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header
        out.reserveCapacity(out.count + 16 * unique.count)
        for (high, low) in unique {
            withUnsafeBytes(of: high.littleEndian) { out.append(contentsOf: $0) }
            withUnsafeBytes(of: low.littleEndian) { out.append(contentsOf: $0) }
        }
        return out
    }

    /// The id of a decision-log line whose decision is `keep`, else nil.
    /// Reads the log's fixed field order (`…,"id":"…","decision":"keep",…`).
    public static func keptID(inLogLine line: some Collection<UInt8>) -> [UInt8]? {
        let bytes = Array(line)
        let marker = Array(#","id":""#.utf8)
        guard let start = find(marker, in: bytes, from: 0) else { return nil }
        var id: [UInt8] = []
        var index = start + marker.count
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                index += 1
                switch bytes[index] {
                case UInt8(ascii: "u") where index + 4 < bytes.count:
                    let hex = String(decoding: bytes[index + 1...index + 4], as: UTF8.self)
                    if let scalar = UInt32(hex, radix: 16).flatMap(Unicode.Scalar.init) {
                        id.append(contentsOf: Array(String(Character(scalar)).utf8))
                    }
                    index += 4
                case UInt8(ascii: "n"): id.append(0x0A)
                case UInt8(ascii: "t"): id.append(0x09)
                case UInt8(ascii: "r"): id.append(0x0D)
                default: id.append(bytes[index])
                }
            } else {
                id.append(byte)
            }
            index += 1
        }
        let keep = Array(#"","decision":"keep""#.utf8)
        guard index + keep.count <= bytes.count, Array(bytes[index..<index + keep.count]) == keep else { return nil }
        return id
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var index = from
        while index + needle.count <= haystack.count {
            if haystack[index] == needle[0], Array(haystack[index..<index + needle.count]) == needle { return index }
            index += 1
        }
        return nil
    }
}

/// A kept id that cannot go into DataComp's `u8,u8` array.
public struct KeptIdsError: Error, Sendable, CustomStringConvertible {
    public var id: String
    public var line: Int
    public var description: String {
        "kept id '\(id)' (kept record \(line)) is not a 32-hex-digit uid, so it has no DataComp u8,u8 form; "
            + "write the ids as text (a name not ending .npy)"
    }
}
