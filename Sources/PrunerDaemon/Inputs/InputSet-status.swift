// Backpressure as `prunerd status` and /metrics show it: whether reading is
// paused for all inputs, why and since when, the paused time in all, and each
// open input's own pause (a connection stays paused until it is read again; see
// PauseState.swift). For senders that get no flow lines (files, FIFOs, plain
// sockets) this is where backpressure can be seen.
import CLibUV

extension InputSet {
    /// The status document's `reading` object.
    func writeReadingStatus(into json: inout JSONWriter, now: UInt64) {
        let state = backpressure.state
        let queues = self.queues
        let open = openInputs
        json.key("reading")
        json.open()
        Self.writePauseFields(of: state, into: &json, now: now)
        json.field("queued_records", queues.pendingRecords)
        json.field("queued_log_bytes", queues.logBacklog)
        json.field("inputs_paused", open.count(where: { $0.pauseState.isPaused }))
        json.key("inputs")
        json.openArray()
        for input in open {
            let pause = input.pauseState
            json.open()
            json.field("name", input.name)
            Self.writePauseFields(of: pause, into: &json, now: now)
            json.field("flow_lines", input.isSubscribedToFlow)
            json.close()
        }
        json.closeArray()
        json.close()
    }

    /// The fields one pause state shows, the same for all inputs and for each one.
    private static func writePauseFields(of pause: PauseState, into json: inout JSONWriter, now: UInt64) {
        json.field("paused", pause.isPaused)
        json.field("reason", pause.current?.notice.reason.rawValue)
        json.field("paused_for_seconds", pause.isPaused ? Double(pause.currentNanos(at: now)) / 1e9 : nil)
        json.field("paused_seconds_total", Double(pause.totalNanos(at: now)) / 1e9)
        json.field("pauses", pause.pauses)
    }

    /// The /metrics lines of backpressure (global only: a label per connection would grow without bound).
    func writeReadingMetrics(into metrics: inout PrometheusExposition, now: UInt64) {
        let state = backpressure.state
        let reason = state.current?.notice.reason
        metrics.gauge("prunerd_reading_paused", "1 while reading is paused for every input, by the queue that filled.",
                      [PauseReason.engine, .log].map { (["reason": $0.rawValue], reason == $0 ? 1 : 0) })
        metrics.gauge("prunerd_reading_paused_for_seconds", "Seconds the current pause of reading has lasted (0 while reading).",
                      Double(state.currentNanos(at: now)) / 1e9)
        metrics.counter("prunerd_reading_paused_seconds_total", "Seconds reading was paused for every input, in all.",
                        [([:], Double(state.totalNanos(at: now)) / 1e9)])
        metrics.counter("prunerd_reading_pauses_total", "Times reading paused for every input.", [([:], Double(state.pauses))])
        metrics.gauge("prunerd_inputs_paused", "Open inputs not read since their reading paused (waiting for their turn included).",
                      Double(openInputs.count(where: { $0.pauseState.isPaused })))
    }
}
