// What the daemon tells about itself while it runs: the `prunerd status`
// document on the control socket, the Prometheus text on `/metrics`, and the
// one-line STATUS= for systemd. Every document is read on the loop thread at a
// moment the engine is readable (between engine jobs, or while a checkpoint
// only reads it).
import CLibUV
import Logging
import PrunerCore

/// The control socket and the metrics endpoint, and the documents they answer with.
final class StatusService {
    private let configuration: DaemonConfiguration
    private let logger: Logger
    private let loop: EventLoop
    private let figures: RunFigures
    private let inputs: InputSet
    private let driver: EngineDriver
    private let checkpointer: Checkpointer
    private let redis: RedisPlumbing
    /// `--cluster`: the shard's figures join the status document.
    var cluster: ClusterShard?
    private var listeners: [Listener] = []

    init(configuration: DaemonConfiguration, logger: Logger, loop: EventLoop, figures: RunFigures, inputs: InputSet,
         driver: EngineDriver, checkpointer: Checkpointer, redis: RedisPlumbing) {
        self.configuration = configuration
        self.logger = logger
        self.loop = loop
        self.figures = figures
        self.inputs = inputs
        self.driver = driver
        self.checkpointer = checkpointer
        self.redis = redis
    }

    /// Opens the control socket and the metrics endpoint the configuration asks for.
    func start() throws {
        if let path = configuration.controlPath {
            let control = try Listener(address: .unix(path: path), replies: false, loop: loop,
                onConnection: { [unowned self] _, handle in
                    _ = RequestConnection(handle: handle, terminator: [UInt8(ascii: "\n")]) { [unowned self] _, reply in
                        // The document reads the engine: only between engine jobs.
                        whenEngineReadable { [unowned self] in reply(Array(statusJSON().utf8) + [UInt8(ascii: "\n")]) }
                    }
                },
                onError: { [unowned self] _, error in logger.error("control socket: \(error)") })
            listeners.append(control)
            logger.info("status on unix:\(path)")
        }
        if let metrics = configuration.metrics {
            let server = try Listener(address: metrics, replies: false, loop: loop,
                onConnection: { [unowned self] _, handle in
                    _ = RequestConnection(handle: handle, terminator: Array("\r\n\r\n".utf8)) { [unowned self] request, reply in
                        whenEngineReadable { [unowned self] in reply(httpResponse(to: request)) }
                    }
                },
                onError: { [unowned self] _, error in logger.error("metrics endpoint: \(error)") })
            listeners.append(server)
            logger.info("metrics on \(metrics)/metrics")
            metrics.warnIfReachable(can: "read the metrics", logger: logger)
        }
    }

    /// Closes both endpoints (at shutdown).
    func close() {
        for listener in listeners { listener.close() }
        listeners = []
    }

    /// Runs `body` on the loop thread at a moment no engine job changes the engine,
    /// so it may read it: also while a checkpoint is written (which only reads it),
    /// so `prunerd status` and `/metrics` answer during a long checkpoint.
    private func whenEngineReadable(_ body: @escaping () -> Void) {
        if checkpointer.isWriting { body() } else { driver.whenIdle(body) }
    }

    /// systemd's STATUS= line.
    func statusLine() -> String {
        "\(Int(figures.recentRate.rounded())) records/s, \(figures.tally.total) decided, kept ratio \(formatFixed(figures.keepRatio, 4)), "
            + "\(driver.engine.conceptCount) concepts"
    }

    /// The `prunerd status` document (must run while the engine is readable; see `whenEngineReadable`).
    private func statusJSON() -> String {
        let tally = figures.tally
        let seconds = figures.seconds(at: uv_hrtime())
        var json = JSONWriter()
        json.open()
        json.field("uptime_seconds", seconds)
        json.field("records_read", Int(inputs.recordsRead))
        json.field("records", tally.total)
        json.field("kept", tally.kept)
        json.field("dropped", tally.dropped)
        json.field("rejected", tally.rejected)
        json.field("keep_ratio", figures.keepRatio)
        json.field("records_per_second", figures.recentRate)
        json.field("records_per_second_overall", Double(tally.total) / max(1e-9, figures.seconds(at: uv_hrtime())))
        json.field("rejected_by_reason", tally.rejectedByReason)
        json.field("dropped_by_reason", tally.droppedByReason)
        json.field("open_inputs", inputs.openCount)
        inputs.writeReadingStatus(into: &json, now: uv_hrtime())
        json.field("latency_ms_p50", figures.latency.histogram.quantileMilliseconds(0.5))
        json.field("latency_ms_p99", figures.latency.histogram.quantileMilliseconds(0.99))
        json.field("checkpoint_age_seconds", checkpointer.lastWrittenAt.map { Double(uv_hrtime() - $0) / 1e9 })
        json.field("decision_log", configuration.decisionsPath)
        if let filter = driver.idFilter {
            json.field("unique_ids", filter.insertedCount)
            json.field("unique_ids_expected", filter.expectedRecords)
            json.field("unique_ids_false_positive_rate", filter.expectedRate)
        }
        driver.engine.writeStatus(into: &json)
        redis.writeStatus(into: &json)
        cluster?.writeStatus(into: &json)
        figures.history.write(into: &json, now: figures.seconds(at: uv_hrtime()), tally: tally)
        json.close()
        return json.text
    }

    private func httpResponse(to request: [UInt8]) -> [UInt8] {
        let line = String(decoding: request.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0] == "GET", parts[1] == "/metrics" || parts[1].hasPrefix("/metrics?") else {
            return Array("HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n".utf8)
        }
        let tally = figures.tally
        var metrics = PrometheusExposition()
        metrics.counter("prunerd_records_total", "Records that got a decision line, by decision.",
                        [(["decision": "keep"], Double(tally.kept)), (["decision": "drop"], Double(tally.dropped)),
                         (["decision": "reject"], Double(tally.rejected))])
        metrics.counter("prunerd_rejected_total", "Rejected records by reason.",
                        tally.rejectedByReason.sorted { $0.key < $1.key }.map { (["reason": $0.key], Double($0.value)) })
        metrics.gauge("prunerd_records_per_second", "Decisions per second over the last second.", figures.recentRate)
        metrics.gauge("prunerd_keep_ratio", "Realised keep ratio over kept and dropped records.", figures.keepRatio)
        metrics.gauge("prunerd_open_inputs", "Inputs currently open.", Double(inputs.openCount))
        inputs.writeReadingMetrics(into: &metrics, now: uv_hrtime())
        metrics.gauge("prunerd_concepts", "Concepts of the engine.", Double(driver.engine.conceptCount))
        let warmup = driver.engine.warmupProgress
        metrics.gauge("prunerd_warmup_records", "Valid records the warm-up holds (0 once it is over).", Double(warmup?.seen ?? 0))
        metrics.gauge("prunerd_warmup_target", "Records the warm-up waits for before the first decision (0 once it is over).",
                      Double(warmup?.target ?? 0))
        metrics.gauge("prunerd_latency_p99_seconds", "Record-to-decision latency, 99th percentile.",
                      figures.latency.histogram.quantileMilliseconds(0.99) / 1000)
        metrics.gauge("prunerd_checkpoint_age_seconds", "Seconds since the last checkpoint (-1: none yet).",
                      checkpointer.lastWrittenAt.map { Double(uv_hrtime() - $0) / 1e9 } ?? -1)
        if let filter = driver.idFilter {
            metrics.gauge("prunerd_unique_ids", "Ids in the --unique-ids filter.", Double(filter.insertedCount))
            metrics.gauge("prunerd_unique_ids_false_positive_rate",
                          "Share of new records the --unique-ids filter now drops as duplicate_id by mistake (expected).",
                          filter.expectedRate)
        }
        let body = metrics.text
        return Array(("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body).utf8)
    }
}
