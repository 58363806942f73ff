// Found by fuzz-checkpoint (AddressSanitizer, heap-buffer-overflow in
// ConceptStatistics.add): an engine checkpoint whose warm-up buffer has an entry
// with a row past its vectors restored, and deciding the buffer read beyond
// them. The row numbers are now checked on restore.
import Foundation
import PrunerCore
import Testing

@Suite struct CheckpointRegressionTests {
    @Test func aWarmupRowPastTheVectorsIsMalformed() throws {
        let file = CorpusReplayTests.corpusRoot.appendingPathComponent("checkpoint/regression-warmup-row-past-vectors")
        // The fuzz input: a control byte (3: rewrite length and CRC, as the target does), then the checkpoint.
        var bytes = Array(try Data(contentsOf: file).dropFirst())
        let length = UInt64(bytes.count - 24)
        for i in 0..<8 { bytes[12 + i] = UInt8(truncatingIfNeeded: length >> (8 * UInt64(i))) }
        let crc = CRC32.checksum(bytes[0..<(bytes.count - 4)])
        for i in 0..<4 { bytes[bytes.count - 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        var options = PruningOptions()
        options.clusters = 3; options.warmup = 24; options.lookahead = 6; options.recomputeEvery = 8
        options.kmeansIterations = 3; options.update = .auto
        #expect(throws: CheckpointError.malformed("warm-up buffer")) {
            _ = try StreamingPruner(checkpoint: bytes, options: options)
        }
    }
}
