// Inputs fuzz-checkpoint found that crashed a restored engine, each now refused
// on restore with the reason.
import Foundation
import PrunerCore
@testable import PrunerFuzzing
import Testing

@Suite struct CheckpointRegressionTests {
    /// The engine checkpoint in a fuzz input, as fuzz-checkpoint reads it: a control byte
    /// (bit 0: rewrite the CRCs, bit 1: the lengths), then a resume point wrapping an engine
    /// checkpoint, or a bare one.
    static func engineCheckpoint(_ name: String) throws -> [UInt8] {
        let file = CorpusReplayTests.corpusRoot.appendingPathComponent("checkpoint/\(name)")
        let input = Array(try Data(contentsOf: file))
        var bytes = Array(input.dropFirst())
        if ResumePoint.isResumePoint(bytes) {
            CheckpointFuzzing.fixResumePoint(&bytes, control: input[0])
            return try ResumePoint(decoding: bytes).engine
        }
        CheckpointFuzzing.fixEngineCheckpoint(&bytes, control: input[0])
        return bytes
    }

    static let options: PruningOptions = {
        var options = PruningOptions()
        options.clusters = 3; options.warmup = 24; options.lookahead = 6; options.recomputeEvery = 8
        options.kmeansIterations = 3; options.update = .auto
        return options
    }()

    /// AddressSanitizer, heap-buffer-overflow in ConceptStatistics.add: an engine checkpoint whose
    /// warm-up buffer has an entry with a row past its vectors restored, and deciding the buffer
    /// read beyond them. The row numbers are now checked on restore.
    @Test func aWarmupRowPastTheVectorsIsMalformed() throws {
        let bytes = try Self.engineCheckpoint("regression-warmup-row-past-vectors")
        #expect(throws: CheckpointError.malformed("warm-up buffer")) {
            _ = try StreamingPruner(checkpoint: bytes, options: Self.options)
        }
    }

    /// A trap in ConceptStatistics.bin ("Double value cannot be converted to Int"): a version-4
    /// checkpoint whose centroids are not unit vectors restored, and the first record's distance
    /// to one was far below −1. Centroids are now checked on restore (finite, norm ≤ 1.01), and
    /// a distance out of range falls in the histogram's end bins instead of trapping.
    @Test func centroidsThatAreNotUnitVectorsAreMalformed() throws {
        let bytes = try Self.engineCheckpoint("regression-centroid-not-unit")
        do {
            _ = try StreamingPruner(checkpoint: bytes, options: Self.options)
            Issue.record("the checkpoint restored")
        } catch CheckpointError.malformed(let what) {
            #expect(what.hasPrefix("centroid ") && what.contains("not a unit vector"), "\(what)")
        }
    }

    /// An arithmetic-overflow trap in `restoreDedup`: a version-6 checkpoint (valid CRC) whose
    /// stored options held a `dedupMemory` near 2^62, so `capacity × d` overflowed while
    /// checking a dedup ring. Stored (and given) options now bound it, and the check divides.
    @Test func aHugeDedupMemoryIsMalformed() throws {
        let bytes = try Self.engineCheckpoint("regression-huge-dedup-memory")
        #expect(throws: CheckpointError.self) { _ = try StreamingPruner(checkpoint: bytes, options: Self.options) }
    }

    /// An arithmetic-overflow trap in `restoring`: a version-5 checkpoint (valid CRC) whose
    /// rejection counts summed past `Int.max` when they were taken out of the records seen.
    /// Every restored count is now at most 2^53.
    @Test func rejectionCountsThatOverflowAreMalformed() throws {
        let bytes = try Self.engineCheckpoint("regression-rejection-count-overflow")
        #expect(throws: CheckpointError.self) { _ = try StreamingPruner(checkpoint: bytes, options: Self.options) }
    }

    /// "Unexpectedly found nil" in `assign`: a checkpoint past its warm-up with no centroids
    /// restored without a kernel, and the first record had nothing to be assigned with.
    @Test func noCentroidsAfterTheWarmupIsMalformed() throws {
        let bytes = try Self.engineCheckpoint("regression-no-centroids-after-warmup")
        #expect(throws: CheckpointError.self) { _ = try StreamingPruner(checkpoint: bytes, options: Self.options) }
    }

    /// An arithmetic-overflow trap in `ConceptStatistics.remove`: a checkpoint whose concept
    /// histogram did not hold its count (a bin's block sum at 0 under a bin above it) restored,
    /// and moving a held record out of that concept took a member from an empty block. Each
    /// concept's histogram must now hold exactly its count.
    @Test func aHistogramThatDoesNotHoldItsCountIsMalformed() throws {
        let bytes = try Self.engineCheckpoint("regression-histogram-not-count")
        do {
            _ = try StreamingPruner(checkpoint: bytes, options: Self.options)
            Issue.record("the checkpoint restored")
        } catch CheckpointError.malformed(let what) {
            #expect(what.hasPrefix("statistics of concept "), "\(what)")
        }
    }
}
