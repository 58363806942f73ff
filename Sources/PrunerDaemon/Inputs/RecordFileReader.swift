// Synchronous, streaming reading of records from files, for the commands that
// run without the event loop (encode, decode, kept, fidelity): the same codecs
// as the daemon's inputs, in fixed buffers, so memory does not grow with the file.
import PrunerCore
import PrunerIO

/// Reads the records of inputs one after the other.
public enum RecordFileReader {
    /// Every record of `path` (PRN1/JSON Lines/`.npy`, raw or LZ4; `-` is stdin), in order.
    /// `sink` gets each event with its `src` name's index in `names` and its `seq`.
    /// - Parameter progress: called after each chunk with the bytes read so far.
    public static func read(path: String, maxRecordSize: Int = 1 << 20, progress: ((UInt64) -> Void)? = nil,
                            _ sink: (RecordEvent, _ seq: UInt64) -> Void) throws {
        let fd = path == "-" ? 0 : try FileSystem.openForReading(path)
        defer { if path != "-" { FileSystem.close(fd) } }
        let compression = LZ4StreamDecoder()
        var records = RecordDecoder(maxRecordSize: maxRecordSize)
        var seq: UInt64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var total: UInt64 = 0
        func each(_ event: RecordEvent) {
            sink(event, seq)
            seq += 1
        }
        while true {
            let count = try FileSystem.read(fd, into: buffer, at: -1, path: path == "-" ? "stdin" : path)
            if count == 0 { break }
            total += UInt64(count)
            try compression.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<count])) {
                (plain: UnsafeRawBufferPointer) throws(StreamError) in try records.feed(plain, each)
            }
            progress?(total)
        }
        try compression.finish()
        try records.finish(each)
    }

    /// Every row of a matrix stream, in order; `sink` also gets the shard's index.
    public static func read(stream: MatrixStream, progress: ((UInt64) -> Void)? = nil,
                            _ sink: (RecordEvent, _ shard: Int, _ seq: UInt64) -> Void) throws {
        var records = RecordDecoder()
        records.annotations = RowAnnotationFiles(stream: stream)
        var total: UInt64 = 0
        for (index, shard) in stream.shards.enumerated() {
            var seq: UInt64 = 0
            func each(_ event: RecordEvent) {
                sink(event, index, seq)
                seq += 1
            }
            let reader = try ShardReader(shard)
            let before = reader.bytesRead
            while try reader.next({ (bytes: UnsafeRawBufferPointer) throws(StreamError) in try records.feed(bytes, each) }) {
                progress?(total + reader.bytesRead - before)
            }
            total += reader.bytesRead
            guard records.isAtArrayBoundary else {
                throw MatrixInputError("\(shard.label): truncated .npy: the shard ends inside a row or header")
            }
        }
        try records.finish { _ in }
    }
}
