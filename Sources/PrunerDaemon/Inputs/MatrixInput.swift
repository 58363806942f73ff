// A matrix stream as one daemon input: its shards (`.npy` files, `.npz`
// members) read one after the other with libuv's asynchronous fs reads at
// explicit offsets, one read in flight, into one fixed buffer; deflated members
// pass through zlib. Each shard's records carry the shard's own `src`, and a
// restart from a checkpoint resumes each shard after the rows it had handed on.
import CLibUV
import PrunerIO

/// The shards of a `MatrixStream`, in order, as one input.
final class MatrixInput: Input, FileReadCompletion {
    private let loop: EventLoop
    private let stream: MatrixStream
    private let shardBegins: (MatrixShard) -> ShardStart
    private let readBuffer: UnsafeMutableRawBufferPointer
    private var shardIndex = 0
    private var fd: Int32 = -1
    private var offset: UInt64 = 0
    private var end: UInt64 = 0
    private var inflater: Inflater?
    private var isPaused = false
    private var readInFlight = false
    private var isDone = false
    /// File bytes read so far over all shards (progress).
    private(set) var bytesRead: UInt64 = 0

    /// Where a shard starts: its `src` index, and the rows (from its first) that a
    /// restart decodes again without handing them on (they reached the engine
    /// before the checkpoint: the `seq` is the row, as for the records of a file).
    struct ShardStart {
        var source: UInt32
        var resumesAt: UInt64
    }

    /// - Parameter shardBegins: called as each shard begins (the first one here).
    init(stream: MatrixStream, loop: EventLoop, maxRecordSize: Int,
         shardBegins: @escaping (MatrixShard) -> ShardStart) {
        self.loop = loop
        self.stream = stream
        self.shardBegins = shardBegins
        self.readBuffer = .allocate(byteCount: 256 * 1024, alignment: 16)
        let first = shardBegins(stream.shards[0])
        super.init(name: stream.shards[0].sourceName, source: first.source, maxRecordSize: maxRecordSize,
                   annotations: RowAnnotationFiles(stream: stream))
        resumesAt = first.resumesAt
    }

    deinit {
        readBuffer.deallocate()
        if fd >= 0 && !readInFlight { FileSystem.close(fd) }
    }

    override func start() {
        do {
            try openShard(0)
        } catch {
            end(error: "\(error)")
            return
        }
        readNext()
    }

    override func pause() { isPaused = true }

    override func resume() {
        isPaused = false
        readNext()
    }

    override func close() {
        guard !isDone else { return }
        isDone = true
        if fd >= 0 && !readInFlight {
            FileSystem.close(fd)
            fd = -1
        }
    }

    private func openShard(_ index: Int) throws {
        if fd >= 0 { FileSystem.close(fd) }
        fd = -1
        let shard = stream.shards[index]
        shardIndex = index
        fd = try FileSystem.openForReading(shard.path)
        offset = shard.start
        end = shard.start + shard.length
        inflater = shard.deflated ? Inflater() : nil
    }

    private func readNext() {
        guard !isPaused, !readInFlight, !isDone, fd >= 0 else { return }
        if offset >= end {
            finishShard()
            return
        }
        readInFlight = true
        // Deflated bytes expand several-fold: smaller reads keep what one read releases near the batch size.
        let limit = inflater == nil ? readBuffer.count : 32 * 1024
        let want = Int(min(UInt64(limit), end - offset))
        let status = loop.startRead(fd, into: UnsafeMutableRawBufferPointer(rebasing: readBuffer[0..<want]),
                                    at: Int64(offset), for: self)
        if status != 0 {
            readInFlight = false
            end(error: UVError(code: status, operation: "uv_fs_read").description)
        }
    }

    func didRead(result: Int) {
        readInFlight = false
        if isDone {
            if fd >= 0 { FileSystem.close(fd) }
            fd = -1
            return
        }
        guard result > 0 else {
            let label = stream.shards[shardIndex].label
            end(error: result == 0 ? "\(label): the file ends at byte \(offset), before the \(end) its header promises"
                : UVError(code: Int32(result), operation: "read \(label)").description)
            return
        }
        offset += UInt64(result)
        bytesRead += UInt64(result)
        let bytes = UnsafeRawBufferPointer(rebasing: readBuffer[0..<result])
        if let inflater {
            do throws(StreamError) {
                try inflater.feed(bytes) { (plain: UnsafeRawBufferPointer) throws(StreamError) in
                    delegate?.input(self, didRead: plain)
                }
            } catch {
                end(error: "\(stream.shards[shardIndex].label): \(error)")
                return
            }
        } else {
            delegate?.input(self, didRead: bytes)
        }
        readNext()
    }

    /// The current shard is read: on to the next, or the end of the stream.
    private func finishShard() {
        if let inflater {
            do throws(StreamError) { try inflater.finish() } catch {
                end(error: "\(stream.shards[shardIndex].label): \(error)")
                return
            }
        }
        guard shardIndex + 1 < stream.shards.count else {
            FileSystem.close(fd)
            fd = -1
            end(error: nil)
            return
        }
        let next = stream.shards[shardIndex + 1]
        do {
            let start = shardBegins(next)
            try beginShard(name: next.sourceName, source: start.source)
            resumesAt = start.resumesAt
            try openShard(shardIndex + 1)
        } catch {
            end(error: "\(error)")
            return
        }
        readNext()
    }

    private func end(error: String?) {
        delegate?.inputDidEnd(self, error: error)
    }
}
