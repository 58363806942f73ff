// One input of the daemon (stdin, a file or FIFO, an accepted connection): its
// name, its decoders and its record counter. Readers (StreamInput, FileInput)
// feed it bytes; it turns them into records for the batcher.
import PrunerCore
import PrunerIO

/// Receives what inputs produce. Implemented by the daemon.
protocol InputDelegate: AnyObject {
    /// Raw bytes read from `input`.
    func input(_ input: Input, didRead bytes: UnsafeRawBufferPointer)
    /// The input reached EOF (`error == nil`) or failed.
    func inputDidEnd(_ input: Input, error: String?)
}

/// An input's identity and decoding state. Subclasses own the libuv side.
class Input {
    /// The `src` of its decision lines, e.g. `stdin`, `file:/x.lz4`, `unix:/run/in.sock#12`
    /// (for a matrix stream, the shard being read).
    private(set) var name: String
    /// Index of `name` in the source table.
    private(set) var source: UInt32
    weak var delegate: InputDelegate?

    private var compression = LZ4StreamDecoder()
    private var records: RecordDecoder
    private let maxRecordSize: Int
    /// Index of the next record of this input (the `seq` field).
    private(set) var nextSeq: UInt64 = 0
    /// Whether decoding failed; further bytes are ignored.
    private(set) var hasFailed = false
    /// Records before this `seq` reached the engine before the checkpoint a restart
    /// resumes from: they are decoded (LZ4 frames and JSON lines can only be framed
    /// from the start) but not handed on.
    var resumesAt: UInt64 = 0
    /// `seq`s of the current Redis stream entry not to hand on: their lines are in the log, or
    /// the engine restored from the checkpoint holds them (nil: none).
    var skippedSeqs: Set<UInt64>?
    /// Records handed on (those past `resumesAt`).
    private(set) var deliveredCount: UInt64 = 0
    /// The file read, for the checkpoint (nil for pipes, devices and connections).
    var identity: FileIdentity?
    /// Reading of this input paused for backpressure, as its sender feels it (see `PauseState`).
    private(set) var pauseState = PauseState()

    init(name: String, source: UInt32, maxRecordSize: Int, annotations: RowAnnotations? = nil) {
        self.name = name
        self.source = source
        self.records = RecordDecoder(maxRecordSize: maxRecordSize)
        self.maxRecordSize = maxRecordSize
        records.annotations = annotations
    }

    /// An entry of a Redis stream begins: it is a whole wire-format message of its
    /// own (its own LZ4 frame or none, PRN1 or JSON Lines), so the decoders start
    /// afresh; its records get the entry's `src` and `seq` counts from 0.
    func beginEntry(name: String, source: UInt32) {
        compression = LZ4StreamDecoder()
        records = RecordDecoder(maxRecordSize: maxRecordSize)
        self.name = name
        self.source = source
        nextSeq = 0
        hasFailed = false
        skippedSeqs = nil
    }

    /// The next shard of a matrix stream begins: its records get their own `src`,
    /// and `seq` counts from 0 again (the row within the shard). The decoder goes
    /// on (the rows' default ids count over the whole stream).
    /// - Throws: when the previous shard ended inside a row or header.
    func beginShard(name: String, source: UInt32) throws(StreamError) {
        guard !hasFailed else { return }
        guard records.isAtArrayBoundary else {
            hasFailed = true
            throw StreamError(offset: records.consumedBytes, layer: .record,
                              reason: "truncated .npy: \(self.name) ends inside a row or header")
        }
        self.name = name
        self.source = source
        nextSeq = 0
    }

    /// Decompresses and decodes `bytes`, handing each record to `sink` with its origin.
    /// - Throws: the first framing error; the input must then be closed.
    func decode(_ bytes: UnsafeRawBufferPointer, _ sink: (RecordEvent, RecordOrigin) -> Void) throws(StreamError) {
        guard !hasFailed else { return }
        do throws(StreamError) {
            try compression.feed(bytes) { (plain: UnsafeRawBufferPointer) throws(StreamError) in
                try records.feed(plain) { event in deliver(event, sink) }
            }
        } catch {
            hasFailed = true
            throw error
        }
    }

    /// End of input: delivers a final unterminated JSON line, and checks that no
    /// frame or record was left truncated.
    func finishDecoding(_ sink: (RecordEvent, RecordOrigin) -> Void) throws(StreamError) {
        guard !hasFailed else { return }
        do throws(StreamError) {
            try compression.finish()
            try records.finish { event in deliver(event, sink) }
        } catch {
            hasFailed = true
            throw error
        }
    }

    @inline(__always)
    private func deliver(_ event: RecordEvent, _ sink: (RecordEvent, RecordOrigin) -> Void) {
        if nextSeq >= resumesAt && skippedSeqs?.contains(nextSeq) != true {
            sink(event, RecordOrigin(source: source, seq: nextSeq))
            deliveredCount += 1
        }
        nextSeq += 1
    }

    // MARK: Backpressure as the sender is told of it

    /// Backpressure: stops reading this input, and tells its sender when this begins a pause.
    final func pause(for notice: PauseNotice, at now: UInt64) {
        beginPause(notice, at: now)
        pause()
    }

    /// Backpressure lifted: reads this input again. Its pause ends once it is read (`readingResumed`).
    final func resumeFromBackpressure(at now: UInt64) {
        resume()
        readingResumed(at: now)
    }

    /// A pause of this input begins (nothing is told when one is in progress already).
    final func beginPause(_ notice: PauseNotice, at now: UInt64) {
        if pauseState.begin(notice, at: now) { tell(FlowLine.pause(notice)) }
    }

    /// This input is read again: its pause, if any, ends and its sender is told.
    final func endPause(at now: UInt64) {
        if let nanos = pauseState.end(at: now) { tell(FlowLine.resume(pausedNanos: nanos)) }
    }

    /// Reading restarted after backpressure. A file or a Redis stream is read at once:
    /// its pause ends here. A connection's sender stays blocked until its turn comes
    /// (`StreamInput` overrides).
    func readingResumed(at now: UInt64) { endPause(at: now) }

    /// Sends a flow line to the sender, if it asked for them (reply-mode connections only).
    func tell(_ line: [UInt8]) {}

    /// Whether the sender asked for flow lines.
    var isSubscribedToFlow: Bool { false }

    // MARK: Reading

    /// Starts reading.
    func start() {}
    /// Stops reading until `resume()` (backpressure).
    func pause() {}
    /// Resumes reading after `pause()`.
    func resume() {}
    /// Stops reading for good and releases the libuv side.
    func close() {}
    /// Closes at once, dropping whatever is still to be sent (at shutdown).
    func abort() { close() }
    /// Whether the input can take reply lines (reply mode on a connection).
    var acceptsReplies: Bool { false }
    /// Sends reply bytes back on the connection (reply mode).
    func reply(_ bytes: [UInt8]) {}
}
