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

    /// 384 values (a real embedding's dimension) with one dominant component: summed one by one,
    /// the small squares vanish below the large one's ulp; sixteen lanes at a time, they add up
    /// first. (With d = 5 both orders gave the same sum, and the test could not tell the two
    /// paths apart.)
    static let embeddingLike: [Float] = [4096] + (1..<384).map { Float(0.5 + 0.001 * Double($0 % 7)) }

    @Test("the contiguous and the generic append agree bit for bit, where summation order matters")
    func contiguousMatchesGeneric() {
        let values = Self.embeddingLike
        var sequential: Float = 0
        for x in values { sequential += x * x }
        let lanes = values.withUnsafeBufferPointer { VectorMath.dot($0.baseAddress!, $0.baseAddress!, values.count) }
        #expect(sequential != lanes, "the data must separate the summation orders, or this test proves nothing")
        var fast = RecordBatch(dimension: values.count), generic = RecordBatch(dimension: values.count)
        #expect(append(values, to: &fast) == nil)
        #expect(generic.append(origin: RecordOrigin(source: 0, seq: 0), id: "x", score: nil, vector: values[...]) == nil)
        let differing = zip(fast.vectors, generic.vectors).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(fast.rowCount == 1 && generic.rowCount == 1 && differing == 0, "\(differing) of 384 values differ")
    }

    @Test("the generic append normalises overflowing finite vectors as the contiguous one does")
    func genericRescalesOverflow() {
        var fast = RecordBatch(dimension: 3), generic = RecordBatch(dimension: 3)
        let values: [Float] = [3e30, 4e30, 0]
        #expect(append(values, to: &fast) == nil)
        #expect(generic.append(origin: RecordOrigin(source: 0, seq: 0), id: "x", score: nil, vector: values.lazy.map { $0 }) == nil)
        #expect(fast.vectors == generic.vectors)
    }
}
