// The resume point (the daemon's checkpoint file): an exact round trip, and
// every damaged or foreign file refused with a CheckpointError, never half-read.
import Testing
@testable import PrunerCore

@Suite struct ResumePointTests {
    static let point = ResumePoint(
        log: .init(path: "/var/log/prunerd/decisions.jsonl", device: 2049, inode: 131_077, length: 123_456_789),
        sources: [.init(name: "file:/data/a.lz4", replies: false), .init(name: "unix:/run/in.sock#1", replies: true)],
        files: [.init(name: "file:/data/a.lz4", device: 2049, inode: 77, size: 1 << 33, fingerprint: 0xDEAD_BEEF_0123_4567,
                      records: 318_470)],
        engine: Array(0..<200).map { UInt8($0) })

    @Test func roundTripIsExact() throws {
        let bytes = Self.point.encoded()
        #expect(ResumePoint.isResumePoint(bytes))
        #expect(try ResumePoint(decoding: bytes) == Self.point)
        let stdout = ResumePoint(log: nil, sources: [], files: [], engine: [])
        #expect(try ResumePoint(decoding: stdout.encoded()) == stdout)
    }

    @Test func everyTruncationIsRefused() throws {
        let bytes = Self.point.encoded()
        for length in 0..<bytes.count {
            #expect(throws: CheckpointError.self) { try ResumePoint(decoding: Array(bytes[0..<length])) }
        }
        #expect(throws: CheckpointError.self) { try ResumePoint(decoding: bytes + [0]) }
    }

    @Test func aFlippedByteInTheResumeSectionIsAChecksumError() throws {
        var bytes = Self.point.encoded()
        bytes[30] ^= 0x04
        #expect {
            try ResumePoint(decoding: bytes)
        } throws: { error in
            if case .checksumMismatch = error as? CheckpointError { return true }
            return false
        }
    }

    @Test func anEngineCheckpointIsNotAResumePoint() throws {
        let engine = try StreamingPruner(options: PruningOptions(), dimension: 4).checkpoint()
        #expect(!ResumePoint.isResumePoint(engine))
        #expect(throws: CheckpointError.badMagic) { try ResumePoint(decoding: engine) }
    }
}
