// An input read through a libuv stream: stdin or a FIFO as a pipe, a terminal,
// or an accepted unix/TCP connection. Reads into one fixed buffer per input, so
// memory per input is bounded; `pause()` is uv_read_stop (backpressure). A
// reply-mode connection whose client asked for flow lines is told when its
// reading pauses and when it is read again (FlowLines.swift).
import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// Type-erased ownership of a stream handle (`uv_pipe_t`, `uv_tcp_t`, `uv_tty_t`).
final class StreamHandle {
    let stream: UnsafeMutablePointer<uv_stream_t>
    private let closeHandle: () -> Void
    private let attachOwner: (AnyObject) -> Void

    init<Handle>(_ handle: UVHandle<Handle>) {
        stream = handle.stream
        closeHandle = { handle.close() }
        attachOwner = { handle.attach(to: $0) }
    }

    func attach(to owner: AnyObject) { attachOwner(owner) }
    func close() { closeHandle() }

    /// Opens an existing file descriptor as a stream of the kind libuv detects.
    static func adopting(fd: Int32, on loop: EventLoop) throws(UVError) -> StreamHandle {
        switch uv_guess_handle(fd) {
        case UV_TTY:
            return StreamHandle(try UVHandle<uv_tty_t> { uv_tty_init(loop.loop, $0, fd, 0) })
        case UV_TCP:
            let handle = try UVHandle<uv_tcp_t> { uv_tcp_init(loop.loop, $0) }
            let status = uv_tcp_open(handle.pointer, uv_os_sock_t(fd))
            if status != 0 { handle.close(); throw UVError(code: status, operation: "uv_tcp_open(\(fd))") }
            return StreamHandle(handle)
        case UV_NAMED_PIPE:
            let handle = try UVHandle<uv_pipe_t> { uv_pipe_init(loop.loop, $0, 0) }
            let status = uv_pipe_open(handle.pointer, fd)
            if status != 0 { handle.close(); throw UVError(code: status, operation: "uv_pipe_open(\(fd))") }
            return StreamHandle(handle)
        default:
            // Not pollable (a directory, a regular file, UDP): libuv aborts on such a stream.
            throw UVError(code: UV_EINVAL.rawValue, operation: "read descriptor \(fd) as a stream")
        }
    }
}

/// An input read from a libuv stream.
final class StreamInput: Input {
    private let handle: StreamHandle
    private let readBuffer: UnsafeMutableRawBufferPointer
    private var isReading = false
    /// Paused by backpressure; also before `start()`, which then waits for `resume()`.
    private var isPaused = false
    private var isClosed = false
    private var isHandleClosed = false
    private let repliesEnabled: Bool
    private var pendingReplyBytes = 0
    /// Reply bytes queued for a client at which its reading pauses (`--max-reply-backlog`):
    /// a reply-mode client that does not read its replies gets no more records read,
    /// so its replies cannot grow without bound, and it never holds back other inputs.
    private let maxReplyBacklog: Int
    /// Paused because the client does not read its replies; resumed below half the limit.
    private(set) var isHeldByReplies = false
    /// Called when the reply backlog reaches its limit (the daemon logs it).
    var onReplyBacklogFull: ((Int) -> Void)?
    /// Called once the handle is closed for good (the daemon counts open connections).
    var onClosed: (() -> Void)?
    /// The connection's end (or a read error) was read: nothing more comes from the client.
    private var hasReachedEnd = false
    /// Whether the client opened with `FlowLine.subscribe` (reply mode only).
    private var subscription: FlowSubscription

    /// Default read buffer of a stream input (`--connection-buffer`).
    static let defaultBufferSize = 64 * 1024
    /// Default `--max-reply-backlog`.
    static let defaultMaxReplyBacklog = 4 << 20

    init(name: String, source: UInt32, handle: StreamHandle, maxRecordSize: Int, replies: Bool = false,
         bufferSize: Int = StreamInput.defaultBufferSize, maxReplyBacklog: Int = StreamInput.defaultMaxReplyBacklog) {
        self.handle = handle
        self.readBuffer = .allocate(byteCount: max(4096, bufferSize), alignment: 16)
        self.repliesEnabled = replies
        self.maxReplyBacklog = max(1, maxReplyBacklog)
        self.subscription = FlowSubscription(offered: replies)
        super.init(name: name, source: source, maxRecordSize: maxRecordSize)
        handle.attach(to: self)
    }

    deinit {
        handle.close()
        readBuffer.deallocate()
    }

    /// Starts reading, unless paused already. A reply-mode connection accepted while
    /// paused is still read up to the end of a possible opt-in line (never a record's
    /// bytes beyond it), so a client that asks for flow lines is told of the pause at once.
    override func start() {
        if !isPaused || subscription.isUndecided { startReading() }
    }

    override func resume() {
        isPaused = false
        startReading()
    }

    private func startReading() {
        guard !isReading, !isClosed, !isHeldByReplies else { return }
        isReading = true
        let status = uv_read_start(handle.stream, { handle, _, buffer in
            guard let input = UVOwner.of(handle, as: StreamInput.self) else {
                buffer!.pointee = uv_buf_init(nil, 0)
                return
            }
            // Until the opt-in line is decided, no more than its rest (see `start()`).
            let size = input.subscription.isUndecided ? input.subscription.bytesToDecide : input.readBuffer.count
            buffer!.pointee = uv_buf_init(input.readBuffer.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(size))
        }, { stream, count, _ in
            guard let input = UVOwner.of(stream, as: StreamInput.self) else { return }
            input.didRead(count: count)
        })
        if status != 0 {
            isReading = false
            finish(error: UVError(code: status, operation: "uv_read_start").description)
        }
    }

    override func pause() {
        isPaused = true
        if !subscription.isUndecided { stopReading() }
    }

    /// The sender was blocked (if at all) while its bytes waited in the socket: its pause
    /// ends when they are read, or now when nothing waits (an idle sender, or one that
    /// stopped sending on the pause line and waits for the resume line).
    override func readingResumed(at now: UInt64) {
        guard let pause = pauseState.current else { return }
        if isHeldByReplies {
            // The queues drained but this client's unread verdicts still hold its reading: the
            // pause goes on, told under its own reason (a resume and a pause at the same moment).
            if pause.notice.reason != .replies {
                endPause(at: now)
                beginPause(repliesNotice, at: now)
            }
            return
        }
        guard isReading, !hasBytesWaiting else { return }
        endPause(at: now)
    }

    /// A pause because the client does not read its replies, as of now.
    private var repliesNotice: PauseNotice {
        PauseNotice(reason: .replies, queuedRecords: 0, queuedLogBytes: 0, replyBacklogBytes: pendingReplyBytes)
    }

    /// Bytes in the socket's receive queue (FIONREAD). On error, false: the resume is told
    /// at once rather than never.
    private var hasBytesWaiting: Bool {
        var fd: uv_os_fd_t = -1
        let handlePointer = UnsafeMutableRawPointer(handle.stream).assumingMemoryBound(to: uv_handle_t.self)
        guard uv_fileno(handlePointer, &fd) == 0 else { return false }
        var count: Int32 = 0
        guard ioctl(fd, UInt(FIONREAD), &count) == 0 else { return false }
        return count > 0
    }

    override var isSubscribedToFlow: Bool { subscription.isSubscribed }

    override func tell(_ line: [UInt8]) {
        if subscription.isSubscribed { reply(line) }
    }

    private func stopReading() {
        guard isReading else { return }
        isReading = false
        uv_read_stop(handle.stream)
    }

    /// Closes the connection; replies still being written go out first
    /// (closing a stream cancels its pending writes).
    override func close() {
        guard !isClosed else { return }
        isClosed = true
        isReading = false
        if pendingReplyBytes == 0 { closeHandle() }
    }

    /// Closes at once, cancelling replies not yet written (at shutdown: a client
    /// that never reads must not keep the daemon from exiting).
    override func abort() {
        isClosed = true
        isReading = false
        closeHandle()
    }

    private func closeHandle() {
        guard !isHandleClosed else { return }
        isHandleClosed = true
        guard let onClosed else {
            handle.close()
            return
        }
        self.onClosed = nil
        handle.close()
        onClosed()
    }

    override var acceptsReplies: Bool { repliesEnabled }

    override func reply(_ bytes: [UInt8]) {
        guard acceptsReplies, !bytes.isEmpty, !isHandleClosed else { return }
        pendingReplyBytes += bytes.count
        uvWrite(bytes, to: handle.stream) { [self] _ in
            pendingReplyBytes -= bytes.count
            if isHeldByReplies && pendingReplyBytes < maxReplyBacklog / 2 {
                isHeldByReplies = false
                if !isPaused {
                    startReading()
                    readingResumed(at: uv_hrtime())
                }
            }
            if isClosed && pendingReplyBytes == 0 { closeHandle() }
        }
        // After the end of its input a client sends nothing more: holding its reading tells it nothing.
        if pendingReplyBytes >= maxReplyBacklog && !isHeldByReplies && !hasReachedEnd {
            isHeldByReplies = true
            stopReading()
            // Queued behind the replies the client does not read: it learns of the pause as it reads again.
            // A pause still waiting for its turn after a resume now waits for the replies: told so.
            let now = uv_hrtime()
            if !isPaused, let pause = pauseState.current, pause.notice.reason != .replies { endPause(at: now) }
            beginPause(repliesNotice, at: now)
            onReplyBacklogFull?(pendingReplyBytes)
        }
    }

    private func didRead(count: Int) {
        if count > 0 {
            var bytes = UnsafeRawBufferPointer(rebasing: readBuffer[0..<count])
            if subscription.isUndecided {
                let split = subscription.split(bytes)
                bytes = split.records
                if split.subscribedNow {
                    reply(FlowLine.subscribed)
                    if let pause = pauseState.current { reply(FlowLine.pause(pause.notice)) }
                }
                if !split.replayed.isEmpty { deliver(split.replayed) }
                // Accepted while paused: the opt-in line is decided, the pause now holds.
                if isPaused && !subscription.isUndecided { stopReading() }
            }
            if pauseState.isPaused && !isPaused && !isHeldByReplies { endPause(at: uv_hrtime()) }
            if !bytes.isEmpty && !isClosed { delegate?.input(self, didRead: bytes) }
        } else if count < 0 {
            // Read to its end: its sender is not blocked any more.
            hasReachedEnd = true
            endPause(at: uv_hrtime())
            deliver(subscription.finish())
            pause()
            let error = UVError(code: Int32(count), operation: "read")
            finish(error: error.isEndOfFile ? nil : error.description)
        }
    }

    /// Bytes held back as a possible opt-in line that were records after all.
    private func deliver(_ held: ArraySlice<UInt8>) {
        guard !held.isEmpty else { return }
        held.withUnsafeBytes { delegate?.input(self, didRead: $0) }
    }

    private func finish(error: String?) {
        delegate?.inputDidEnd(self, error: error)
    }
}
