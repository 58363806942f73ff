// Validation and normalisation of records as they enter a batch.
import Testing
@testable import PrunerCore

@Suite("RecordBatch")
struct RecordBatchTests {
    func append(_ values: [Float], to batch: inout RecordBatch) -> RejectReason? {
        values.withUnsafeBufferPointer { batch.append(origin: RecordOrigin(source: 0, seq: 0), id: "x", score: nil, vector: $0) }
    }

    @Test("finite vectors whose squares overflow are still normalised, not rejected")
    func hugeFiniteValues() {
        var batch = RecordBatch(dimension: 3)
        #expect(append([3e30, 4e30, 0], to: &batch) == nil)
        #expect(abs(batch.vectors[0] - 0.6) < 1e-6 && abs(batch.vectors[1] - 0.8) < 1e-6)
    }

    @Test("NaN, infinity, zero and wrong dimension are rejected with their reasons")
    func rejections() {
        var batch = RecordBatch(dimension: 3)
        #expect(append([1, .nan, 0], to: &batch) == .nonFinite)
        #expect(append([1, -.infinity, 0], to: &batch) == .nonFinite)
        #expect(append([0, 0, 0], to: &batch) == .zeroVector)
        #expect(append([1, 2], to: &batch) == .badDimension)
        #expect(batch.count == 4 && batch.rowCount == 0)
        #expect(batch.entries.allSatisfy { $0.row == -1 })
    }

    @Test("the contiguous and the generic append agree bit for bit")
    func contiguousMatchesGeneric() {
        var fast = RecordBatch(dimension: 5), generic = RecordBatch(dimension: 5)
        let values: [Float] = [0.3, -1.7, 2.25, 1e-3, 9]
        #expect(append(values, to: &fast) == nil)
        generic.append(origin: RecordOrigin(source: 0, seq: 0), id: "x", score: nil, vector: values)
        #expect(fast.vectors == generic.vectors)
    }
}
