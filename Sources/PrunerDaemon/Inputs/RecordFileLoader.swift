// Loads whole record files (any input the daemon accepts, or a .npy matrix)
// into memory for tools that need all rows at once: the fidelity harness and
// benchmarks. Reads through libuv's fs API; decodes with the same codecs as the daemon.
import PrunerCore
import PrunerIO

/// Whole-file loading of records.
public enum RecordFileLoader {
    /// The valid rows of `path` (rejected records are left out), normalised,
    /// with their ids. A `.npy` file is read as a matrix with ids `row-N`.
    public static func load(_ path: String, maxRecordSize: Int = 1 << 20) throws -> (batch: RecordBatch, rejected: Int) {
        let bytes = try FileSystem.readFile(atPath: path)
        if path.hasSuffix(".npy") {
            let array = try NPYArray.decode(bytes)
            var batch = RecordBatch(dimension: array.columns, reservingCapacity: array.rows)
            var rejected = 0
            array.values.withUnsafeBufferPointer { values in
                for row in 0..<array.rows {
                    let vector = UnsafeBufferPointer(rebasing: values[row * array.columns..<(row + 1) * array.columns])
                    if batch.append(origin: RecordOrigin(source: 0, seq: UInt64(row)), id: "row-\(row)", score: nil,
                                    vector: vector) != nil { rejected += 1 }
                }
            }
            return (batch, rejected)
        }
        let compression = LZ4StreamDecoder()
        var records = RecordDecoder(maxRecordSize: maxRecordSize)
        var batch: RecordBatch?
        var rejected = 0
        var seq: UInt64 = 0
        let sink = { (event: RecordEvent) in
            defer { seq += 1 }
            guard case .record(let id, let vector, let score) = event else {
                rejected += 1
                return
            }
            if batch == nil { batch = RecordBatch(dimension: vector.count) }
            if batch!.append(origin: RecordOrigin(source: 0, seq: seq), id: id, score: score, vector: vector) != nil {
                rejected += 1
            }
        }
        // (A typed-throws closure passed to withUnsafeBytes crashes Swift 6.3's IRGen; catch inside instead.)
        var failure: StreamError?
        bytes.withUnsafeBytes { raw in
            do throws(StreamError) {
                try compression.feed(raw) { (plain: UnsafeRawBufferPointer) throws(StreamError) in try records.feed(plain, sink) }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        try compression.finish()
        try records.finish(sink)
        guard let batch else { throw StreamError(offset: 0, layer: .record, reason: "\(path) holds no valid record") }
        return (batch, rejected)
    }
}
