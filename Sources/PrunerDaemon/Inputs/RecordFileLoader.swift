// Loads all records of an input into memory for tools that need every row at
// once: the fidelity harness and benchmarks. The bytes stream through the same
// codecs as the daemon's (RecordFileReader); only the valid rows are kept.
import PrunerCore
import PrunerIO

/// Whole-input loading of records.
public enum RecordFileLoader {
    /// The valid rows of `path` (rejected records are left out), normalised,
    /// with their ids. A `.npy`, `.npz` or clip-retrieval folder is read as a
    /// matrix stream whose ids are row numbers.
    public static func load(_ path: String, maxRecordSize: Int = 1 << 20) throws -> (batch: RecordBatch, rejected: Int) {
        if MatrixStreamResolver.isMatrix(path) {
            return try load(stream: MatrixStreamResolver.resolve(paths: [path], ids: nil, scores: nil, npzKey: nil))
        }
        var accumulator = Accumulator()
        try RecordFileReader.read(path: path, maxRecordSize: maxRecordSize) { event, seq in
            accumulator.add(event, origin: RecordOrigin(source: 0, seq: seq))
        }
        return try accumulator.result(path)
    }

    /// The valid rows of a matrix stream.
    public static func load(stream: MatrixStream) throws -> (batch: RecordBatch, rejected: Int) {
        var accumulator = Accumulator()
        accumulator.batch = RecordBatch(dimension: stream.columns, reservingCapacity: stream.rows)
        try RecordFileReader.read(stream: stream) { event, shard, seq in
            accumulator.add(event, origin: RecordOrigin(source: UInt32(shard), seq: seq))
        }
        return try accumulator.result(stream.shards[0].label)
    }

    private struct Accumulator {
        var batch: RecordBatch?
        var rejected = 0

        mutating func add(_ event: RecordEvent, origin: RecordOrigin) {
            guard case .record(let id, let vector, let score) = event else {
                rejected += 1
                return
            }
            if batch == nil { batch = RecordBatch(dimension: vector.count) }
            if batch!.append(origin: origin, id: id, score: score, vector: vector) != nil { rejected += 1 }
        }

        func result(_ name: String) throws -> (batch: RecordBatch, rejected: Int) {
            guard let batch, batch.rowCount > 0 else {
                throw StreamError(offset: 0, layer: .record, reason: "\(name) holds no valid record")
            }
            return (batch, rejected)
        }
    }
}
