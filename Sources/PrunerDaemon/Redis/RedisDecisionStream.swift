// `--decisions redis://HOST:PORT/STREAM`: decision lines also go to a Redis
// stream (XADD … MAXLEN ~ N), one entry per engine batch with the batch's lines in
// its field `lines`, so a crawler reads verdicts from Redis instead of holding a
// socket to every shard.
//
// Delivery is at least once: one XADD in flight at a time, in order; a batch stays
// queued until Redis confirms it, so an outage delays batches instead of losing them
// (a reply lost with the connection can make one batch appear twice). While Redis
// is unreachable the queue is bounded (`maxQueuedBytes`): beyond it the oldest
// batches are dropped from the stream (never from the file log), counted and logged.
import Logging

/// The decision stream's options.
public struct RedisDecisionStreamConfiguration: Sendable {
    public var url: RedisURL
    /// `--decisions-maxlen`: the stream is trimmed to about this many entries (`MAXLEN ~`).
    public var maxLength: Int
    /// Bytes of batches held while Redis is unreachable.
    public var maxQueuedBytes = 64 << 20

    /// Default `--decisions-maxlen`: about a million engine batches, each up to a few
    /// thousand lines; Redis trims whole nodes, so the length is approximate.
    public static let defaultMaxLength = 1_000_000

    /// - Throws: `RedisURLError` when the URL names no stream or has parameters.
    public init(url: RedisURL, maxLength: Int = RedisDecisionStreamConfiguration.defaultMaxLength) throws(RedisURLError) {
        guard !url.name.isEmpty else {
            throw RedisURLError(text: url.description, reason: "no stream name: expected redis://HOST:PORT/STREAM")
        }
        guard url.query.isEmpty else { throw RedisURLError(text: url.description, reason: "takes no parameters") }
        guard maxLength > 0 else { throw RedisURLError(text: url.description, reason: "--decisions-maxlen must be positive") }
        self.url = url
        self.maxLength = maxLength
    }

    public var stream: String { url.name }
}

/// Sends decision batches to a Redis stream.
final class RedisDecisionStream {
    let configuration: RedisDecisionStreamConfiguration
    private let client: RedisClient
    private let logger: Logger
    private let loop: EventLoop
    private var queue: [[UInt8]] = []
    private var queueHead = 0
    private var queuedBytes = 0
    private var inFlight = false
    private var isFinishing = false
    private var finishTimer: LoopTimer?
    private(set) var batchesSent = 0
    private(set) var batchesDropped = 0
    private var warnedDropping = false
    /// Called once after `finish()`, when the queue is sent or given up.
    var onFinished: (() -> Void)?

    init(configuration: RedisDecisionStreamConfiguration, loop: EventLoop, logger: Logger) throws(UVError) {
        self.configuration = configuration
        self.loop = loop
        self.logger = logger
        client = try RedisClient(url: configuration.url, role: "decision stream \(configuration.stream)", loop: loop, logger: logger)
        client.onConnected = { [unowned self] in sendNext() }
    }

    /// Queues one engine batch's lines (whole lines) as one stream entry.
    func append(_ lines: [UInt8]) {
        guard !lines.isEmpty else { return }
        queue.append(lines)
        queuedBytes += lines.count
        while queuedBytes > configuration.maxQueuedBytes {
            // Never the batch in flight (the head while one is sent): the next oldest goes.
            let index = queueHead + (inFlight ? 1 : 0)
            guard index < queue.count - 1 else { break }
            queuedBytes -= queue[index].count
            queue.remove(at: index)
            batchesDropped += 1
            if !warnedDropping {
                warnedDropping = true
                logger.error("decision stream \(configuration.stream): Redis unreachable and \(configuration.maxQueuedBytes >> 20) MiB of batches queued; dropping the oldest from the stream (the decision log keeps every line)")
            }
        }
        sendNext()
    }

    private func sendNext() {
        guard !inFlight, queueHead < queue.count, client.isConnected else {
            finishIfDone()
            return
        }
        inFlight = true
        let batch = queue[queueHead]
        client.send(["XADD", configuration.stream, "MAXLEN", "~", configuration.maxLength, "*", "lines", batch]) { [self] result in
            inFlight = false
            switch result {
            case .success(let reply):
                if let error = reply.errorMessage {
                    logger.error("decision stream \(configuration.stream): XADD refused: \(error); batch of \(batch.count) bytes not sent")
                } else {
                    batchesSent += 1
                }
                queuedBytes -= batch.count
                queueHead += 1
                if queueHead > 1024 && queueHead * 2 > queue.count {
                    queue.removeFirst(queueHead)
                    queueHead = 0
                }
                warnedDropping = false
                sendNext()
            case .failure:
                break   // kept at the head; sent again once the client reconnects
            }
        }
    }

    /// At stop: sends what is queued, then closes (after a few seconds at most if Redis is unreachable).
    func finish() {
        isFinishing = true
        if let timer = try? LoopTimer(on: loop, action: { [unowned self] in
            let left = queue.count - queueHead
            if left > 0 {
                logger.warning("decision stream \(configuration.stream): \(left) batches not sent (Redis unreachable); the decision log has their lines")
            }
            end()
        }) {
            timer.start(after: UInt64(RedisClient.defaultCommandTimeout * 1000))
            timer.unref()
            finishTimer = timer
        }
        finishIfDone()
    }

    private func finishIfDone() {
        guard isFinishing, !inFlight, queueHead >= queue.count else { return }
        end()
    }

    private func end() {
        guard isFinishing else { return }
        isFinishing = false
        finishTimer?.close()
        finishTimer = nil
        client.close()
        logger.info("decision stream \(configuration.stream): \(batchesSent) batches sent, \(batchesDropped) dropped")
        onFinished?()
    }
}
