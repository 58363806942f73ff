// CRC32 (zlib's crc32_z since fuzz-checkpoint showed the Swift byte loop was most
// of a restore): the standard check value, and slices agree with copies.
import PrunerCore
import Testing

@Suite struct CRC32Tests {
    @Test func standardCheckValues() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        #expect(CRC32.checksum([UInt8](repeating: 0, count: 32)) == 0x190A_55AD)
    }

    @Test func aSliceIsChecksummedAsItsBytes() {
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        #expect(CRC32.checksum(bytes[17..<99_000]) == CRC32.checksum(Array(bytes[17..<99_000])))
        // A collection without contiguous storage takes the copying path.
        #expect(CRC32.checksum(bytes[0..<1000].lazy.map { $0 }) == CRC32.checksum(Array(bytes[0..<1000])))
    }
}
