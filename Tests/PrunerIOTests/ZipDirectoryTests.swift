// The .npz directory reader on forged 64-bit offsets: errors, never traps.
// (Found writing the fuzz-npy .npz path: `offset + size`, the zip64 record's
// distance and a member's data offset were computed unchecked, and a forged
// archive stopped `prunerd serve x.npz` with an arithmetic-overflow trap.)
@testable import PrunerIO
import Testing

@Suite struct ZipDirectoryTests {
    func le(_ value: UInt64, _ bytes: Int) -> [UInt8] { (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }

    /// A file that is only a zip64 end record, its locator and the end record.
    func zip64Tail(recordOffset: UInt64, entries: UInt64, size: UInt64, offset: UInt64) -> [UInt8] {
        var record = le(0x0606_4B50, 4) + le(44, 8) + le(45, 2) + le(45, 2) + le(0, 4) + le(0, 4)
        record += le(entries, 8) + le(entries, 8) + le(size, 8) + le(offset, 8)
        let locator = le(0x0706_4B50, 4) + le(0, 4) + le(recordOffset, 8) + le(1, 4)
        let end = le(0x0605_4B50, 4) + le(0, 4) + le(0xFFFF, 2) + le(0xFFFF, 2) + le(0xFFFF_FFFF, 4) + le(0xFFFF_FFFF, 4) + le(0, 2)
        return record + locator + end
    }

    @Test func aDirectoryPastTheEndOfTheFileIsAnError() throws {
        let tail = zip64Tail(recordOffset: 0, entries: 1, size: 16, offset: UInt64.max - 8)
        #expect(throws: NPYError("central directory outside the file")) {
            try ZipDirectory.locate(tail: tail, fileSize: UInt64(tail.count))
        }
    }

    @Test func aZip64RecordOffsetNear2To64IsAnError() throws {
        let tail = zip64Tail(recordOffset: UInt64.max - 3, entries: 1, size: 0, offset: 0)
        #expect(throws: NPYError("zip64 end record outside the file's tail")) {
            try ZipDirectory.locate(tail: tail, fileSize: UInt64(tail.count))
        }
        let valid = zip64Tail(recordOffset: 0, entries: 0, size: 0, offset: 0)
        let found = try ZipDirectory.locate(tail: valid, fileSize: UInt64(valid.count))
        #expect(found.offset == 0 && found.size == 0 && found.entries == 0)
    }

    @Test func aMemberStartingBeyondAnyFileIsAnError() {
        let member = ZipMember(name: "emb.npy", method: .stored, compressedSize: 4, uncompressedSize: 4,
                               localHeaderOffset: UInt64.max - 10)
        let local = le(0x0403_4B50, 4) + [UInt8](repeating: 0, count: 22) + le(7, 2) + le(0, 2)
        #expect(throws: NPYError("member 'emb.npy' starts beyond any file")) {
            try ZipDirectory.dataOffset(of: member, localHeader: local)
        }
    }
}
