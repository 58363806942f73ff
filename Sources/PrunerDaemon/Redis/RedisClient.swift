// One connection to a Redis server through hiredis 0.14's async API, on the
// daemon's own libuv loop (hiredis's libuv adapter polls the socket). The one
// audited place where hiredis pointers are touched; everything else in prunerd
// talks to Redis through `send` and typed replies.
//
// Rules (pointer lifetimes):
// - `context` is hiredis's `redisAsyncContext`. hiredis frees it itself after a
//   failed connect (after the connect callback) and after a lost connection (after
//   the disconnect callback); `context` is set to nil in both callbacks, and
//   `teardown` sets it to nil before calling `redisAsyncFree`. Its `data` field
//   points at this client, unretained; it is cleared before every free, so no
//   callback reaches a client through a context it has let go of.
// - Each command carries a retained `PendingCommand` as hiredis's `privdata`.
//   hiredis 0.14 calls every (non-subscribe) command's callback exactly once: with
//   the reply, or with NULL when the context is freed; the callback takes the
//   retain back. A command hiredis refuses to queue is released at once.
// - Reply trees are copied into `RedisReply` inside the callback: hiredis frees
//   them when it returns.
// - Arguments are copied by hiredis into its output buffer inside
//   `redisAsyncCommandArgv`, so their pointers need only live for that call.
//
// Behaviour:
// - Completions of failed commands (not connected, connection lost, timed out) run
//   later on the loop, never inside `send` or inside hiredis: a caller that resends
//   from its completion cannot recurse.
// - Timeouts are prunerd's own (hiredis 0.14 has none for async contexts): a loop
//   timer checks the connect and every command in flight; one past its deadline
//   drops the connection (all in-flight commands fail) and a new one is made.
//   This also covers a refused connect: libuv reports POLLERR as an error status,
//   which hiredis's adapter ignores, so without a deadline the connect would hang.
// - Reconnects back off from 100 ms, doubling, to at most 5 s. The first failure
//   after a good connection (or at start) is logged once as a warning; retries are
//   quiet; the return is logged once.
import CHiredis
import CLibUV
import Logging
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A Redis connection that reconnects by itself.
public final class RedisClient {
    /// The server, as the user wrote it (its name and query are the caller's business).
    public let url: RedisURL
    /// What this connection is for, in log lines (`decision stream`, `cluster`, …).
    public let role: String
    /// Seconds a command may wait for its reply (beyond the server-side block time it asks for).
    public var commandTimeout: Double
    /// Called each time a connection is established (first and after every reconnect):
    /// callers (re-)create what they need on the server from here.
    public var onConnected: (() -> Void)?
    /// Called when the connection is lost or a connect fails (every time, not only the first).
    public var onUnavailable: ((RedisError) -> Void)?

    /// Where the connection stands.
    public enum State: Equatable, Sendable {
        case connecting
        case connected
        /// Waiting for the back-off delay before the next connect.
        case waitingToRetry
        case closed
    }
    /// Where the connection stands now.
    public private(set) var state: State = .waitingToRetry

    private let loop: EventLoop
    private let logger: Logger
    private var context: UnsafeMutablePointer<redisAsyncContext>?
    private var connectDeadline: UInt64 = 0
    private var inFlight: [ObjectIdentifier: PendingCommand] = [:]
    /// Failed commands whose completion runs on the next loop turn.
    private var failed: [(PendingCommand, RedisError)] = []
    private var deliveryTimer: LoopTimer!
    private var retryTimer: LoopTimer!
    private var deadlineTimer: LoopTimer!
    private var isWatchingDeadlines = false
    private var retryDelay: UInt64 = RedisClient.firstRetryDelay
    /// Loop time of the first failure of the current outage, nil while reachable.
    private var unreachableSince: UInt64?
    private var attemptsSinceReachable = 0
    private var lastReason = "not connected yet"

    /// Back-off of the first reconnect, in ms.
    static let firstRetryDelay: UInt64 = 100
    /// The longest back-off between reconnects, in ms.
    public static let maximumRetryDelay: UInt64 = 5000
    /// This client's longest back-off, in ms (`maximumRetryDelay` unless its user needs Redis back sooner).
    private let longestRetryDelay: UInt64
    /// Default `commandTimeout`, in seconds.
    public static let defaultCommandTimeout = 5.0

    /// Creates the client and starts connecting on `loop`'s thread (which must be the caller's).
    /// `longestRetryDelay` (ms, 100 to `maximumRetryDelay`) bounds the back-off between reconnects.
    /// - Throws: `UVError` when a loop timer cannot be made.
    public init(url: RedisURL, role: String, loop: EventLoop, logger: Logger,
                commandTimeout: Double = RedisClient.defaultCommandTimeout,
                longestRetryDelay: UInt64 = RedisClient.maximumRetryDelay) throws(UVError) {
        self.longestRetryDelay = min(max(longestRetryDelay, Self.firstRetryDelay), Self.maximumRetryDelay)
        self.url = url
        self.role = role
        self.loop = loop
        self.logger = logger
        self.commandTimeout = commandTimeout
        // hiredis writes with write(2): a server that closed the connection would
        // otherwise kill the daemon with SIGPIPE instead of failing the write with EPIPE.
        signal(SIGPIPE, SIG_IGN)
        deliveryTimer = try LoopTimer(on: loop) { [unowned self] in deliverFailures() }
        retryTimer = try LoopTimer(on: loop) { [unowned self] in connect() }
        deadlineTimer = try LoopTimer(on: loop) { [unowned self] in checkDeadlines() }
        connect()
    }

    deinit {
        close()
    }

    /// `role` and server, for log lines: `redis 127.0.0.1:6379 (decision stream)`.
    public var name: String { "redis \(url.authority) (\(role))" }

    /// Whether commands are answered now.
    public var isConnected: Bool { state == .connected }

    /// Sends one command; `done` runs on the loop thread with its reply or why none came.
    /// Arguments are binary-safe. Commands sent while connecting wait for the connection;
    /// while the server is unreachable they fail at once (on the next loop turn) with
    /// `.unavailable`: callers decide what to resend once `onConnected` runs.
    /// - Parameter blocking: seconds the server may hold the reply on purpose
    ///   (`BLOCK` of XREADGROUP), added to `commandTimeout`.
    public func send(_ arguments: [any RedisArgument], blocking: Double = 0,
                     done: @escaping (Result<RedisReply, RedisError>) -> Void) {
        let seconds = commandTimeout + blocking
        let command = PendingCommand(name: arguments.first.map { String(decoding: $0.redisBytes, as: UTF8.self) } ?? "",
                                     deadline: loop.now + UInt64(seconds * 1000), timeout: seconds, client: self, done: done)
        guard let context, state == .connecting || state == .connected else {
            fail(command, state == .closed ? .closed : .unavailable(lastReason))
            return
        }
        let privdata = Unmanaged.passRetained(command).toOpaque()
        let status = Self.withArgv(arguments.map(\.redisBytes)) { argc, argv, lengths in
            redisAsyncCommandArgv(context, { _, reply, privdata in
                guard let privdata else { return }
                let command = Unmanaged<PendingCommand>.fromOpaque(privdata).takeRetainedValue()
                let copied = reply.map { RedisReply(copying: $0.assumingMemoryBound(to: redisReply.self)) }
                command.client?.complete(command, reply: copied)
            }, privdata, argc, argv, lengths)
        }
        guard status == REDIS_OK else {
            Unmanaged<PendingCommand>.fromOpaque(privdata).release()
            fail(command, .connectionLost(Self.errorText(of: context) ?? "hiredis refused the command"))
            return
        }
        inFlight[ObjectIdentifier(command)] = command
        watchDeadlines()
    }

    /// Closes the connection for good: commands in flight complete with `.closed`
    /// (before this returns), and nothing keeps the loop alive any more.
    public func close() {
        guard state != .closed else { return }
        state = .closed
        teardown(reason: .closed)
        deliverFailures()
        deliveryTimer?.close()
        retryTimer?.close()
        deadlineTimer?.close()
    }

    // MARK: Connection

    private func connect() {
        guard state != .closed, context == nil else { return }
        attemptsSinceReachable += 1
        guard let made = redisAsyncConnect(url.host, Int32(url.port)) else {
            connectFailed("out of memory")
            return
        }
        if made.pointee.err != 0 {
            let reason = Self.errorText(of: made) ?? "connect failed"
            redisAsyncFree(made)
            connectFailed(reason)
            return
        }
        made.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        guard redisLibuvAttach(made, loop.loop) == REDIS_OK else {
            made.pointee.data = nil
            redisAsyncFree(made)
            connectFailed("the libuv adapter could not poll the socket")
            return
        }
        context = made
        state = .connecting
        connectDeadline = loop.now + UInt64(commandTimeout * 1000)
        // Setting the connect callback also arms the write event that detects the connection.
        redisAsyncSetConnectCallback(made) { context, status in
            guard let context, let client = RedisClient.owner(of: context) else { return }
            client.didConnect(context: UnsafeMutablePointer(mutating: context), ok: status == REDIS_OK)
        }
        redisAsyncSetDisconnectCallback(made) { context, status in
            guard let context, let client = RedisClient.owner(of: context) else { return }
            client.didDisconnect(context: UnsafeMutablePointer(mutating: context))
        }
        watchDeadlines()
    }

    private static func owner(of context: UnsafePointer<redisAsyncContext>) -> RedisClient? {
        guard let data = context.pointee.data else { return nil }
        return Unmanaged<RedisClient>.fromOpaque(data).takeUnretainedValue()
    }

    private func didConnect(context connected: UnsafeMutablePointer<redisAsyncContext>, ok: Bool) {
        guard connected == context else { return }
        guard ok else {
            // hiredis frees the context after this callback returns.
            let reason = Self.errorText(of: connected) ?? "connect failed"
            connected.pointee.data = nil
            context = nil
            connectFailed(reason)
            return
        }
        state = .connected
        retryDelay = Self.firstRetryDelay
        if let since = unreachableSince {
            let seconds = Double(loop.now - since) / 1000
            logger.info("\(name): reachable again after \(seconds) s (\(attemptsSinceReachable) connection attempts)")
        }
        unreachableSince = nil
        attemptsSinceReachable = 0
        watchDeadlines()   // also watches the connection itself (see `isPolling`)
        onConnected?()
    }

    private func didDisconnect(context lost: UnsafeMutablePointer<redisAsyncContext>) {
        guard lost == context else { return }
        // hiredis frees the context after this callback; its commands' callbacks already ran with NULL.
        let reason = Self.errorText(of: lost) ?? "closed by the server"
        lost.pointee.data = nil
        context = nil
        connectFailed(reason)
    }

    /// Drops the connection at once (a timeout, or close): every command in flight fails.
    private func teardown(reason: RedisError) {
        guard let dropped = context else { return }
        dropped.pointee.data = nil
        context = nil
        pendingReason = reason
        redisAsyncFree(dropped)   // runs the commands' callbacks with NULL, then closes the poll handle
        pendingReason = nil
    }

    /// Why commands failed during the free in progress.
    private var pendingReason: RedisError?

    /// A connect failed or the connection was lost: warn once per outage, retry with back-off.
    private func connectFailed(_ reason: String) {
        lastReason = reason
        let error = RedisError.unavailable(reason)
        if unreachableSince == nil {
            unreachableSince = loop.now
            logger.warning("\(name) unreachable: \(reason); retrying with back-off (up to \(longestRetryDelay % 1000 == 0 ? "\(longestRetryDelay / 1000)" : formatFixed(Double(longestRetryDelay) / 1000, 2)) s apart), logged again once it is back")
        } else {
            logger.debug("\(name) still unreachable: \(reason)")
        }
        guard state != .closed else { return }
        state = .waitingToRetry
        retryTimer.start(after: retryDelay)
        retryDelay = min(retryDelay * 2, longestRetryDelay)
        onUnavailable?(error)
    }

    // MARK: Commands

    private func complete(_ command: PendingCommand, reply: RedisReply?) {
        inFlight[ObjectIdentifier(command)] = nil
        if let reply {
            command.finish(.success(reply))
        } else if command.timedOut {
            fail(command, .timedOut(seconds: command.timeout))
        } else {
            fail(command, pendingReason ?? .connectionLost(lastReason))
        }
    }

    private func fail(_ command: PendingCommand, _ error: RedisError) {
        failed.append((command, error))
        if state == .closed { return }   // close() delivers them itself
        deliveryTimer.start(after: 0)
    }

    private func deliverFailures() {
        while !failed.isEmpty {
            let due = failed
            failed = []
            for (command, error) in due { command.finish(.failure(error)) }
        }
    }

    /// Runs the deadline check every 100 ms while connecting, connected or a command waits.
    private func watchDeadlines() {
        guard !isWatchingDeadlines, state != .closed else { return }
        isWatchingDeadlines = true
        deadlineTimer.start(after: 100, every: 100)
    }

    private func checkDeadlines() {
        let now = loop.now
        if state == .connecting, let reason = connectError(now: now) {
            teardown(reason: .unavailable(reason))
            connectFailed(reason)
        } else if state == .connected, let context, !Self.isPolling(context) {
            let reason = "connection failed (socket error)"
            teardown(reason: .connectionLost(reason))
            connectFailed(reason)
        } else if let late = inFlight.values.first(where: { now >= $0.deadline }) {
            for command in inFlight.values where now >= command.deadline { command.timedOut = true }
            let reason = "\(late.name) had no reply within \(late.timeout) s"
            teardown(reason: .connectionLost(reason))
            connectFailed(reason)
        }
        if inFlight.isEmpty && state != .connecting && state != .connected {
            isWatchingDeadlines = false
            deadlineTimer.stop()
        }
    }

    /// Why the connect in progress failed, or nil while it may still succeed. A refused
    /// connect shows as a socket error: libuv reports it to the adapter as a poll error,
    /// which the adapter ignores, so it is read here (SO_ERROR) instead of waiting for the deadline.
    private func connectError(now: UInt64) -> String? {
        if let context {
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(context.pointee.c.fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error != 0 {
                return "\(Errno(rawValue: error))"
            }
        }
        return now >= connectDeadline ? "no connection within \(commandTimeout) s" : nil
    }

    // MARK: C helpers

    /// Whether the adapter still polls the socket. libuv stops a poll handle whose socket
    /// reports an error (a reset connection) and tells the adapter, which ignores it: the
    /// connection is then dead without hiredis knowing, so it is checked here.
    private static func isPolling(_ context: UnsafeMutablePointer<redisAsyncContext>) -> Bool {
        guard let events = context.pointee.ev.data,
              let offset = MemoryLayout<redisLibuvEvents>.offset(of: \redisLibuvEvents.handle) else { return false }
        return uv_is_active((events + offset).assumingMemoryBound(to: uv_handle_t.self)) != 0
    }

    /// hiredis's error text of a context, if it has one.
    private static func errorText(of context: UnsafePointer<redisAsyncContext>) -> String? {
        guard context.pointee.err != 0, let text = context.pointee.errstr else { return nil }
        return String(cString: text)
    }

    private static func errorText(of context: UnsafeMutablePointer<redisAsyncContext>) -> String? {
        errorText(of: UnsafePointer(context))
    }

    /// Lays `arguments` out as hiredis's argc/argv/argvlen, valid for the duration of `body`.
    private static func withArgv<Result>(
        _ arguments: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> Result
    ) -> Result {
        var storage: [UInt8] = []
        storage.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        for argument in arguments {
            offsets.append(storage.count)
            storage.append(contentsOf: argument)
        }
        storage.append(0)   // a valid base address even when every argument is empty
        let lengths = arguments.map(\.count)
        return storage.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return argv.withUnsafeMutableBufferPointer { pointers in
                lengths.withUnsafeBufferPointer { lengths in
                    body(Int32(arguments.count), pointers.baseAddress!, lengths.baseAddress!)
                }
            }
        }
    }
}

/// One command waiting for its reply; hiredis holds it (retained) as `privdata`.
private final class PendingCommand {
    let name: String
    let deadline: UInt64
    let timeout: Double
    /// Strong until the command completes (the client outlives its context, which holds this).
    var client: RedisClient?
    var timedOut = false
    private var done: ((Result<RedisReply, RedisError>) -> Void)?

    init(name: String, deadline: UInt64, timeout: Double, client: RedisClient,
         done: @escaping (Result<RedisReply, RedisError>) -> Void) {
        self.name = name
        self.deadline = deadline
        self.timeout = timeout
        self.client = client
        self.done = done
    }

    /// Runs the completion once.
    func finish(_ result: Result<RedisReply, RedisError>) {
        client = nil
        let done = self.done
        self.done = nil
        done?(result)
    }
}

extension RedisReply {
    /// Copies hiredis's reply tree.
    fileprivate init(copying reply: UnsafePointer<redisReply>) {
        let node = reply.pointee
        switch node.type {
        case REDIS_REPLY_STRING:
            self = .string(node.str.map { Array(UnsafeRawBufferPointer(start: $0, count: node.len)) } ?? [])
        case REDIS_REPLY_ARRAY:
            self = .array((0..<node.elements).map { index in
                node.element[index].map { RedisReply(copying: $0) } ?? .null
            })
        case REDIS_REPLY_INTEGER:
            self = .integer(Int64(node.integer))
        case REDIS_REPLY_STATUS:
            self = .status(Self.text(node))
        case REDIS_REPLY_ERROR:
            self = .error(Self.text(node))
        default:
            self = .null
        }
    }

    private static func text(_ node: redisReply) -> String {
        guard let str = node.str else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: str, count: node.len), as: UTF8.self)
    }
}
