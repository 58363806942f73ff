// The central directory of a zip archive (an `.npz` is a zip of `.npy` members,
// written by numpy.savez / savez_compressed with zip64 fields). Only what
// locating a member needs: name, method, sizes and where its data starts.
// The caller reads bytes (random access); this parses them.

/// One member of a zip archive.
public struct ZipMember: Sendable, Equatable {
    public enum Method: Sendable, Equatable {
        case stored
        case deflated
        case other(UInt16)
    }

    public var name: String
    public var method: Method
    public var compressedSize: UInt64
    public var uncompressedSize: UInt64
    /// Offset of the member's local file header.
    public var localHeaderOffset: UInt64
}

/// Zip directory parsing. Errors are ``NPYError``s phrased for an `.npz`.
public enum ZipDirectory {
    /// Bytes at the end of the file that hold the end-of-central-directory record (22 + a comment of ≤ 65535).
    public static let tailLength = 22 + 65535 + 20

    /// Where the central directory is, from the archive's last bytes.
    /// - Parameters:
    ///   - tail: the last bytes of the file (up to `tailLength`).
    ///   - fileSize: the file's size.
    /// - Returns: offset and size of the central directory, and its entry count.
    public static func locate(tail: [UInt8], fileSize: UInt64) throws(NPYError) -> (offset: UInt64, size: UInt64, entries: UInt64) {
        guard tail.count >= 22 else { throw NPYError("not a zip archive (shorter than its end record)") }
        var end = -1
        var index = tail.count - 22
        while index >= 0 {
            if tail[index] == 0x50, le32(tail, index) == 0x0605_4B50 { end = index; break }
            index -= 1
        }
        guard end >= 0 else { throw NPYError("not a zip archive (no end of central directory record)") }
        var entries = UInt64(le16(tail, end + 10))
        var size = UInt64(le32(tail, end + 12))
        var offset = UInt64(le32(tail, end + 16))
        // zip64: a locator sits just before the end record and points at the zip64 end record.
        if end >= 20, le32(tail, end - 20) == 0x0706_4B50 {
            let recordOffset = le64(tail, end - 20 + 8)
            let tailStart = fileSize - UInt64(tail.count)
            // Checked before converting: a forged offset near 2^64 must not trap.
            guard recordOffset >= tailStart, recordOffset - tailStart <= UInt64(tail.count),
                  Int(recordOffset - tailStart) + 56 <= tail.count else {
                throw NPYError("zip64 end record outside the file's tail")
            }
            let record = Int(recordOffset - tailStart)
            guard le32(tail, record) == 0x0606_4B50 else { throw NPYError("bad zip64 end record signature") }
            entries = le64(tail, record + 32)
            size = le64(tail, record + 40)
            offset = le64(tail, record + 48)
        }
        guard offset <= fileSize, size <= fileSize - offset else { throw NPYError("central directory outside the file") }
        return (offset, size, entries)
    }

    /// The members listed in the central directory's bytes.
    public static func members(directory: [UInt8], entries: UInt64) throws(NPYError) -> [ZipMember] {
        var members: [ZipMember] = []
        var position = 0
        for _ in 0..<entries {
            guard position + 46 <= directory.count, le32(directory, position) == 0x0201_4B50 else {
                throw NPYError("bad central directory entry at directory byte \(position)")
            }
            let method = le16(directory, position + 10)
            var compressed = UInt64(le32(directory, position + 20))
            var uncompressed = UInt64(le32(directory, position + 24))
            let nameLength = Int(le16(directory, position + 28))
            let extraLength = Int(le16(directory, position + 30))
            let commentLength = Int(le16(directory, position + 32))
            var localOffset = UInt64(le32(directory, position + 42))
            let nameStart = position + 46
            guard nameStart + nameLength + extraLength <= directory.count else { throw NPYError("truncated central directory") }
            let name = String(decoding: directory[nameStart..<nameStart + nameLength], as: UTF8.self)
            // zip64 extra field (id 1): the 64-bit values of the fields set to 0xFFFFFFFF, in this order.
            var extra = nameStart + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = le16(directory, extra)
                let length = Int(le16(directory, extra + 2))
                var field = extra + 4
                if id == 1 {
                    if uncompressed == 0xFFFF_FFFF, field + 8 <= extraEnd { uncompressed = le64(directory, field); field += 8 }
                    if compressed == 0xFFFF_FFFF, field + 8 <= extraEnd { compressed = le64(directory, field); field += 8 }
                    if localOffset == 0xFFFF_FFFF, field + 8 <= extraEnd { localOffset = le64(directory, field) }
                }
                extra += 4 + length
            }
            let kind: ZipMember.Method = method == 0 ? .stored : method == 8 ? .deflated : .other(method)
            members.append(ZipMember(name: name, method: kind, compressedSize: compressed,
                                     uncompressedSize: uncompressed, localHeaderOffset: localOffset))
            position = extraEnd + commentLength
        }
        return members
    }

    /// Offset of a member's data, from its 30-byte local file header.
    public static func dataOffset(of member: ZipMember, localHeader: [UInt8]) throws(NPYError) -> UInt64 {
        guard localHeader.count >= 30, le32(localHeader, 0) == 0x0403_4B50 else {
            throw NPYError("bad local header of member '\(member.name)'")
        }
        let (start, overflow) = member.localHeaderOffset.addingReportingOverflow(
            30 + UInt64(le16(localHeader, 26)) + UInt64(le16(localHeader, 28)))
        guard !overflow else { throw NPYError("member '\(member.name)' starts beyond any file") }
        return start
    }

    private static func le16(_ bytes: [UInt8], _ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
    private static func le32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(le16(bytes, at)) | UInt32(le16(bytes, at + 2)) << 16
    }
    private static func le64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        UInt64(le32(bytes, at)) | UInt64(le32(bytes, at + 4)) << 32
    }
}
