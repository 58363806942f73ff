// The `--unique-ids` filter: no false negatives, a false-positive rate near the
// design rate (measured, not assumed), and an exact checkpoint round trip that
// refuses damaged bytes.
import Testing
@testable import PrunerCore

@Suite struct IDFilterTests {
    /// Ids like a crawler's: a shared prefix and a running number, so that the hash must spread neighbours.
    static func ids(_ range: Range<Int>, prefix: String) -> [String] {
        range.map { "\(prefix)-\($0)" }
    }

    @Test func sizingFollowsTheBloomFormula() {
        let filter = IDFilter(expectedRecords: 10_000_000)
        // m = −n ln p / (ln 2)² = 19.17 bits per id at p = 1e-4, k = 13.
        #expect(filter.hashCount == 13)
        #expect(filter.bitCount >= 191_701_000 && filter.bitCount < 191_701_300)
        #expect(filter.byteCount == filter.bitCount / 8)
        #expect(filter.byteCount < 24_000_000)
    }

    @Test func everyInsertedIdIsFound() {
        var filter = IDFilter(expectedRecords: 50_000)
        let inserted = Self.ids(0..<50_000, prefix: "https://example.org/img")
        for id in inserted { filter.insert(id) }
        #expect(inserted.allSatisfy(filter.contains))
        #expect(filter.insertedCount == 50_000)
        let addedAgain = filter.insert(inserted[7])
        #expect(!addedAgain, "a held id sets no new bit")
    }

    /// N ids in, N' others probed: the share found must be the design rate within a factor of 2
    /// (at 2,000,000 probes and p = 1e-4, 200 false positives are expected; the Poisson spread is ±14).
    @Test func measuredFalsePositiveRateIsNearTheDesignRate() {
        let n = 200_000
        var filter = IDFilter(expectedRecords: n)
        for id in Self.ids(0..<n, prefix: "shard-0017/rec") { filter.insert(id) }
        let probes = 2_000_000
        var falsePositives = 0
        for id in Self.ids(n..<(n + probes), prefix: "shard-0017/rec") where filter.contains(id) { falsePositives += 1 }
        let rate = Double(falsePositives) / Double(probes)
        print("IDFilter: \(n) ids in \(filter.byteCount) bytes, \(filter.hashCount) hashes; \(falsePositives) false positives in \(probes) probes = \(rate) (design \(IDFilter.defaultRate))")
        #expect(rate > IDFilter.defaultRate / 2 && rate < IDFilter.defaultRate * 2,
                "measured \(falsePositives) false positives in \(probes) probes: \(rate), design \(IDFilter.defaultRate)")
        #expect(abs(filter.expectedRate - IDFilter.defaultRate) < IDFilter.defaultRate * 0.1)
    }

    @Test func checkpointRoundTripIsExact() throws {
        var filter = IDFilter(expectedRecords: 1_000)
        for id in Self.ids(0..<700, prefix: "a") { filter.insert(id) }
        let bytes = filter.checkpoint()
        let restored = try IDFilter(checkpoint: bytes)
        #expect(restored == filter)
        #expect(Self.ids(0..<700, prefix: "a").allSatisfy(restored.contains))
    }

    @Test func damagedCheckpointsAreRefused() throws {
        var filter = IDFilter(expectedRecords: 100)
        for id in Self.ids(0..<50, prefix: "b") { filter.insert(id) }
        let bytes = filter.checkpoint()
        for length in 0..<bytes.count {
            #expect(throws: CheckpointError.self) { try IDFilter(checkpoint: Array(bytes[0..<length])) }
        }
        var flipped = bytes
        flipped[40] ^= 0x10
        #expect(throws: CheckpointError.self) { try IDFilter(checkpoint: flipped) }
        #expect(throws: CheckpointError.badMagic) { try IDFilter(checkpoint: Array(repeating: 0, count: 64)) }
    }

    @Test func resumePointCarriesTheFilterAsVersion2AndVersion1StillReads() throws {
        var filter = IDFilter(expectedRecords: 100)
        filter.insert("x")
        let engine = Array(0..<64).map { UInt8($0) }
        let with = ResumePoint(log: nil, sources: [], files: [], engine: engine, idFilter: filter.checkpoint())
        let bytes = with.encoded()
        #expect(bytes[8] == 2)
        let decoded = try ResumePoint(decoding: bytes)
        #expect(decoded == with)
        #expect(try IDFilter(checkpoint: decoded.idFilter!) == filter)
        for length in 0..<bytes.count {
            #expect(throws: CheckpointError.self) { try ResumePoint(decoding: Array(bytes[0..<length])) }
        }
        #expect(throws: CheckpointError.self) { try ResumePoint(decoding: bytes + [0]) }
        // Without a filter the file stays version 1, as earlier builds wrote and read it.
        let without = ResumePoint(log: nil, sources: [], files: [], engine: engine)
        #expect(without.encoded()[8] == 1)
        #expect(try ResumePoint(decoding: without.encoded()).idFilter == nil)
    }
}
