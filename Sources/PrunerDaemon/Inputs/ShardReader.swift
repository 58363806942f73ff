// Synchronous reading of one shard's `.npy` bytes (a `.npy` file, or a stored
// or deflated `.npz` member) in fixed chunks: for headers read up front, for
// score files, and for the commands that run without the event loop (encode,
// decode, fidelity). The daemon's own reads are asynchronous (MatrixInput).
import PrunerIO

/// Reads a byte range of a file, inflating it when it is deflated.
final class ShardReader {
    let path: String
    private let fd: Int32
    private var offset: UInt64
    private let end: UInt64
    private let inflater: Inflater?
    private let buffer: UnsafeMutableRawBufferPointer
    /// File bytes read so far.
    private(set) var bytesRead: UInt64 = 0

    init(path: String, start: UInt64, length: UInt64, deflated: Bool, chunkSize: Int = 256 * 1024) throws(UVError) {
        self.path = path
        fd = try FileSystem.openForReading(path)
        offset = start
        end = start + length
        inflater = deflated ? Inflater() : nil
        buffer = .allocate(byteCount: chunkSize, alignment: 16)
    }

    convenience init(_ shard: MatrixShard) throws(UVError) {
        try self.init(path: shard.path, start: shard.start, length: shard.length, deflated: shard.deflated)
    }

    deinit {
        FileSystem.close(fd)
        buffer.deallocate()
    }

    /// Hands the next bytes to `body`; false at the end of the range.
    func next(_ body: (UnsafeRawBufferPointer) throws(StreamError) -> Void) throws -> Bool {
        guard offset < end else {
            try inflater?.finish()
            return false
        }
        let want = Int(min(UInt64(buffer.count), end - offset))
        let count = try FileSystem.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]),
                                        at: Int64(offset), path: path)
        guard count > 0 else {
            throw MatrixInputError("\(path): the file ends at byte \(offset), before the \(end) its header or archive promises")
        }
        offset += UInt64(count)
        bytesRead += UInt64(count)
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
        if let inflater { try inflater.feed(bytes, output: body) } else { try body(bytes) }
        return true
    }

    /// The first bytes of the shard, up to `count` (for its header).
    func prefix(_ count: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count {
            let more = try next { (chunk: UnsafeRawBufferPointer) throws(StreamError) in bytes.append(contentsOf: chunk) }
            if !more { break }
        }
        return bytes
    }
}
