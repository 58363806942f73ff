// What a reply-mode client is told about backpressure, on the wire: the opt-in
// line it sends first, and the flow lines the daemon writes back between its
// verdict lines. A stable public vocabulary (clients parse it; README and
// docs/reliability.md document it): add fields, never rename them.

/// Why reading of an input is paused, as told to its sender and shown by `prunerd status`.
enum PauseReason: String, Sendable {
    /// Records decoded and waiting for the engine reached their limit (`maxPendingRecords`).
    case engine
    /// Decision-log bytes waiting for the disk reached their limit (`maxLogBacklog`).
    case log
    /// This connection's client does not read its replies (`--max-reply-backlog`); only this connection pauses.
    case replies
}

/// One pause as it began: its reason and the queues at that moment.
struct PauseNotice: Sendable {
    var reason: PauseReason
    /// Records waiting for the engine when reading paused.
    var queuedRecords: Int
    /// Decision-log bytes waiting for the disk when reading paused.
    var queuedLogBytes: Int
    /// For `.replies`: reply bytes the client has not read (the queues are not its concern then).
    var replyBacklogBytes: Int = 0
}

/// The lines of the flow vocabulary, formatted once here.
enum FlowLine {
    /// The exact first line by which a reply-mode client asks for flow lines. Not a
    /// record in any wire format (PRN1 and LZ4 begin otherwise; as JSON Lines it
    /// is an object without `id` or `vector`), so it cannot be mistaken for one.
    static let subscribe = Array("{\"flow\":\"on\"}\n".utf8)
    /// The answer to `subscribe`: this daemon sends flow lines on this connection from now on.
    static let subscribed = subscribe

    /// Reading of the connection paused: the sender's next `send` may block until `resume`.
    static func pause(_ notice: PauseNotice) -> [UInt8] {
        let figures = notice.reason == .replies
            ? "\"reply_backlog_bytes\":\(notice.replyBacklogBytes)"
            : "\"queued_records\":\(notice.queuedRecords),\"queued_log_bytes\":\(notice.queuedLogBytes)"
        return Array("{\"flow\":\"pause\",\"reason\":\"\(notice.reason.rawValue)\",\(figures)}\n".utf8)
    }

    /// The connection is read again (or had nothing waiting when reading resumed), after `pausedNanos`.
    static func resume(pausedNanos: UInt64) -> [UInt8] {
        Array("{\"flow\":\"resume\",\"paused_ms\":\(pausedNanos / 1_000_000)}\n".utf8)
    }
}

/// Recognises `FlowLine.subscribe` at the very start of a reply-mode connection,
/// across reads of any size, and gives back the bytes that are records.
struct FlowSubscription {
    private enum State {
        case undecided(matched: Int)
        case subscribed
        case declined
    }

    private var state: State

    /// - Parameter offered: the connection is in reply mode (only there can flow lines go back).
    init(offered: Bool) { state = offered ? .undecided(matched: 0) : .declined }

    /// The client asked for flow lines.
    var isSubscribed: Bool {
        if case .subscribed = state { return true }
        return false
    }

    /// Not known yet whether the client's first bytes are the opt-in line.
    var isUndecided: Bool {
        if case .undecided = state { return true }
        return false
    }

    /// Bytes still to read to finish the opt-in line (so a read while paused takes no record bytes).
    var bytesToDecide: Int {
        if case .undecided(let matched) = state { return FlowLine.subscribe.count - matched }
        return 0
    }

    /// What a read holds once the opt-in line is taken off.
    struct Split {
        /// The client's opt-in line completed with this read.
        var subscribedNow = false
        /// Bytes of earlier reads that looked like the opt-in line but were records: decode them first.
        var replayed: ArraySlice<UInt8> = []
        /// The rest of the read: records.
        var records: UnsafeRawBufferPointer
    }

    /// Takes the opt-in line off the front of the connection's bytes.
    mutating func split(_ bytes: UnsafeRawBufferPointer) -> Split {
        guard case .undecided(let before) = state else { return Split(records: bytes) }
        let line = FlowLine.subscribe
        var matched = before, index = 0
        while index < bytes.count && matched < line.count && bytes[index] == line[matched] {
            index += 1
            matched += 1
        }
        if matched == line.count {
            state = .subscribed
            return Split(subscribedNow: true, records: UnsafeRawBufferPointer(rebasing: bytes[index...]))
        }
        if index == bytes.count {
            state = .undecided(matched: matched)
            return Split(records: UnsafeRawBufferPointer(rebasing: bytes[bytes.count...]))
        }
        // Records after all: the part matched in earlier reads is not in `bytes`; this read's part is.
        state = .declined
        return Split(replayed: line[0..<before], records: bytes)
    }

    /// The connection ended while undecided: what was held back is records (a truncated one).
    mutating func finish() -> ArraySlice<UInt8> {
        guard case .undecided(let matched) = state else { return [] }
        state = .declined
        return FlowLine.subscribe[0..<matched]
    }
}
