// The decision log: JSON Lines appended to a file (or stdout), written with
// libuv's async fs writes, one write in flight, whole lines per write, so a
// reader tailing the file never sees a torn line. Reopened on SIGHUP for
// logrotate's rename-then-signal rotation.
import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// Appends formatted decision lines to the decision log.
final class DecisionLog {
    /// `-` for stdout, else a file path.
    let path: String
    private let loop: EventLoop
    private var fd: Int32
    private var queued: [UInt8] = []
    private var writeInFlight = false
    private var reopenRequested = false
    private var idleWaiters: [() -> Void] = []
    /// The largest single write.
    static let maximumWrite = 4 << 20
    /// Bytes handed over but not yet written (for backpressure).
    private(set) var backlog = 0
    /// Called on a failed write; the daemon reports it.
    var onError: ((UVError) -> Void)?
    /// Called after each write that shrank `backlog`: inputs paused because the
    /// disk fell behind are resumed from here (no other event may come to do it
    /// once every input is paused and the engine is idle).
    var onBacklogShrank: (() -> Void)?
    private var appendedBytes: UInt64 = 0
    private var writtenBytes: UInt64 = 0
    private var writeWaiters: [(end: UInt64, action: () -> Void)] = []
    /// `whenDurable` callers waiting for the fsync in flight, and those for the next one.
    private var syncInFlight = false
    private var syncing: [() -> Void] = []
    private var toSync: [() -> Void] = []

    init(path: String, loop: EventLoop) throws(UVError) {
        self.path = path
        self.loop = loop
        self.fd = try DecisionLog.open(path)
    }

    /// Queues whole lines; they are written in order. `whenWritten` runs once
    /// the last of them has been handed to the kernel.
    func append(_ lines: [UInt8], whenWritten: (() -> Void)? = nil) {
        guard !lines.isEmpty else {
            whenWritten?()
            return
        }
        // An empty queue takes the caller's buffer as it is: no copy, and no large
        // buffer left behind to be refilled (each would be freshly mapped memory).
        if queued.isEmpty { queued = lines } else { queued.append(contentsOf: lines) }
        backlog += lines.count
        appendedBytes += UInt64(lines.count)
        if let whenWritten { writeWaiters.append((appendedBytes, whenWritten)) }
        writeNext()
    }

    private func advanceWritten(by count: Int) {
        writtenBytes += UInt64(count)
        var ready = 0
        while ready < writeWaiters.count && writeWaiters[ready].end <= writtenBytes { ready += 1 }
        guard ready > 0 else { return }
        let due = writeWaiters[0..<ready]
        writeWaiters.removeFirst(ready)
        for waiter in due { waiter.action() }
    }

    /// Calls `body` once every line appended so far is written and fsynced (an
    /// entry of a Redis stream is acknowledged only then). Callers waiting at once
    /// share one fsync; for stdout, written is as durable as it gets.
    func whenDurable(_ body: @escaping () -> Void) {
        let end = appendedBytes
        let sync = { [self] in
            toSync.append(body)
            syncNext()
        }
        if end <= writtenBytes { sync() } else { writeWaiters.append((end, sync)) }
    }

    private func syncNext() {
        guard !syncInFlight, !toSync.isEmpty else { return }
        guard path != "-", fd >= 0 else {
            let due = toSync
            toSync = []
            for body in due { body() }
            return
        }
        syncInFlight = true
        syncing = toSync
        toSync = []
        let request = UVRequest<uv_fs_t>.make(context: self)
        let status = uv_fs_fsync(loop.loop, request, fd) { request in
            let result = request!.pointee.result
            uv_fs_req_cleanup(request)
            UVRequest<uv_fs_t>.complete(request, as: DecisionLog.self).didSync(result: result)
        }
        if status != 0 {
            UVRequest<uv_fs_t>.abandon(request)
            didSync(result: Int(status))
        }
    }

    private func didSync(result: Int) {
        syncInFlight = false
        if result < 0 { onError?(UVError(code: Int32(result), operation: "fsync \(path)")) }
        let due = syncing
        syncing = []
        for body in due { body() }
        syncNext()
    }

    /// Whether everything appended has been written.
    var isIdle: Bool { !writeInFlight && queued.isEmpty && !reopenRequested }

    /// Calls `body` once everything appended so far is written.
    func whenIdle(_ body: @escaping () -> Void) {
        if isIdle { body() } else { idleWaiters.append(body) }
    }

    /// Closes and reopens the file after the write in flight (logrotate). No line is lost:
    /// lines queued meanwhile go to the new file.
    func reopen() {
        guard path != "-" else { return }
        reopenRequested = true
        writeNext()
    }

    /// A second descriptor of the log file (nil for stdout), for fsync and fstat on
    /// another thread: a SIGHUP reopen may close the log's own meanwhile.
    func duplicateDescriptor() -> Int32? {
        guard path != "-", fd >= 0 else { return nil }
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        return copy >= 0 ? copy : nil
    }

    /// Flushes to disk and closes (at stop).
    func close() {
        guard fd >= 0 else { return }
        if path != "-" {
            var request = uv_fs_t()
            uv_fs_fsync(nil, &request, fd, nil)
            uv_fs_req_cleanup(&request)
            FileSystem.closeFile(fd)
        }
        fd = -1
    }

    private func writeNext() {
        guard !writeInFlight else { return }
        if reopenRequested {
            reopenRequested = false
            do throws(UVError) {
                let newFD = try DecisionLog.open(path)
                FileSystem.closeFile(fd)
                fd = newFD
            } catch {
                onError?(error)
            }
        }
        guard !queued.isEmpty, fd >= 0 else {
            if isIdle {
                let waiters = idleWaiters
                idleWaiters = []
                for waiter in waiters { waiter() }
            }
            return
        }
        // At most `maximumWrite` bytes per write, cut after a newline (lines stay whole),
        // so memory in flight stays bounded however far ahead the engine is.
        let chunk: Chunk
        if queued.count <= Self.maximumWrite {
            chunk = Chunk(bytes: queued, log: self)
            queued = []
        } else {
            let cut = (queued[..<Self.maximumWrite].lastIndex(of: UInt8(ascii: "\n")) ?? (queued.count - 1)) + 1
            chunk = Chunk(bytes: Array(queued[..<cut]), log: self)
            queued.removeFirst(cut)
        }
        writeInFlight = true
        write(chunk)
    }

    private func write(_ chunk: Chunk) {
        let request = UVRequest<uv_fs_t>.make(context: chunk)
        let status = chunk.bytes.withUnsafeBytes { raw -> Int32 in
            var buffer = uv_buf_init(
                UnsafeMutablePointer(mutating: raw.baseAddress!.advanced(by: chunk.written).assumingMemoryBound(to: CChar.self)),
                UInt32(raw.count - chunk.written))
            return uv_fs_write(loop.loop, request, fd, &buffer, 1, -1) { request in
                let result = request!.pointee.result
                uv_fs_req_cleanup(request)
                let chunk = UVRequest<uv_fs_t>.complete(request, as: Chunk.self)
                chunk.log.didWrite(chunk, result: result)
            }
        }
        if status != 0 {
            UVRequest<uv_fs_t>.abandon(request)
            didWrite(chunk, result: Int(status))
        }
    }

    private func didWrite(_ chunk: Chunk, result: Int) {
        if result < 0 {
            onError?(UVError(code: Int32(result), operation: "write \(path)"))
            if result == Int(UV_EINTR.rawValue) || result == Int(UV_EAGAIN.rawValue) {
                write(chunk)
                return
            }
            // A failing disk: drop this chunk rather than spin; the error is logged.
            backlog -= chunk.bytes.count - chunk.written
            advanceWritten(by: chunk.bytes.count - chunk.written)
            writeInFlight = false
            writeNext()
            onBacklogShrank?()
            return
        }
        chunk.written += result
        backlog -= result
        advanceWritten(by: result)
        if chunk.written < chunk.bytes.count {
            write(chunk)
        } else {
            writeInFlight = false
            writeNext()
        }
        onBacklogShrank?()
    }

    private static func open(_ path: String) throws(UVError) -> Int32 {
        if path == "-" { return 1 }
        var request = uv_fs_t()
        defer { uv_fs_req_cleanup(&request) }
        let fd = uv_fs_open(nil, &request, path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640, nil)
        try uvCheck(fd, "open decision log \(path)")
        return fd
    }

    private final class Chunk {
        let bytes: [UInt8]
        var written = 0
        let log: DecisionLog
        init(bytes: [UInt8], log: DecisionLog) {
            self.bytes = bytes
            self.log = log
        }
    }
}
