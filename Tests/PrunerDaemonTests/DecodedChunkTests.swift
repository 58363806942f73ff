// Records decoded off the loop thread reach the batch as if decoded on it:
// in order, normalised, and rejected as bad_dimension when another input fixed
// a different dimension first.
import PrunerCore
import PrunerIO
import Testing
@testable import PrunerDaemon

@Suite("DecodedChunk")
struct DecodedChunkTests {
    func add(_ chunk: DecodedChunk, _ id: String, _ vector: [Float], seq: UInt64, dimension: Int?) {
        vector.withUnsafeBufferPointer {
            chunk.add(.record(id: id, vector: $0, score: nil), origin: RecordOrigin(source: 0, seq: seq), dimension: dimension)
        }
    }

    @Test("a chunk merges in order, normalised; a later chunk of another dimension is rejected, reasons kept")
    func mergeKeepsOrderAndDimension() {
        let batcher = RecordBatcher(dimension: nil, batchCapacity: 16)
        let first = DecodedChunk()
        first.add(.rejected(id: "early", reason: .badDtype), origin: RecordOrigin(source: 0, seq: 0), dimension: nil)
        add(first, "a", [3, 4, 0], seq: 1, dimension: nil)
        add(first, "b", [0, 0, 2], seq: 2, dimension: nil)
        let second = DecodedChunk()
        add(second, "c", [1, 1, 1, 1], seq: 0, dimension: nil)   // its job started before any dimension was fixed
        second.add(.rejected(id: "d", reason: .nonFinite), origin: RecordOrigin(source: 1, seq: 1), dimension: nil)
        batcher.accept(first)
        batcher.accept(second)
        #expect(batcher.dimension == 3)
        let early = batcher.takeEarlyRejections()
        #expect(early?.entries.map(\.id) == ["early"])
        let batch = batcher.takeBatch()!
        #expect(batch.entries.map(\.id) == ["a", "b", "c", "d"])
        #expect(batch.entries.map(\.rejection) == [nil, nil, .badDimension, .nonFinite])
        #expect(batch.vectors == [0.6, 0.8, 0, 0, 0, 1])
    }

    @Test("clear keeps nothing of the last read")
    func clearEmpties() {
        let chunk = DecodedChunk()
        add(chunk, "a", [1, 2], seq: 0, dimension: 2)
        chunk.error = StreamError(offset: 9, layer: .record, reason: "x")
        chunk.clear()
        #expect(chunk.count == 0 && chunk.error == nil && chunk.leadingRejections.isEmpty)
        #expect(chunk.records?.isEmpty ?? true)
    }
}
