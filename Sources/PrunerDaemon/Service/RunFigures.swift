// A run's figures as the daemon counts them on the loop thread: decisions by
// verdict, records decided, record-to-decision latency, the recent rate and the
// bounded history behind `prunerd status`, `/metrics`, systemd's STATUS= and
// the progress line.
import CLibUV

/// What a run has decided so far, and how fast.
final class RunFigures {
    /// When the run started (loop time, ns).
    private(set) var startedAt: UInt64 = 0
    private(set) var tally = DecisionTally()
    /// Records that got their decision line (handed to the log).
    private(set) var recordsDecided: UInt64 = 0
    /// Read times paired with write completions.
    var latency = LatencyTracker()
    /// Decisions per second over the last tick.
    private(set) var recentRate = 0.0
    private var rateWindow: (at: UInt64, decided: UInt64) = (0, 0)
    /// Totals over time for `status` and `report` (bounded).
    private(set) var history = StatusHistory()

    /// The run starts now (loop time `now`, ns): uptime and the first rate count from here.
    func start(at now: UInt64) {
        startedAt = now
        rateWindow = (now, recordsDecided)
    }

    /// Counts one output's decisions; returns the records decided so far, them included.
    func noteDecided(_ output: DecisionTally) -> UInt64 {
        recordsDecided += UInt64(output.total)
        tally.add(output)
        return recordsDecided
    }

    /// Once a second: the recent rate and a history sample.
    func tick(now: UInt64) {
        let seconds = Double(now - rateWindow.at) / 1e9
        if seconds > 0 { recentRate = Double(recordsDecided - rateWindow.decided) / seconds }
        rateWindow = (now, recordsDecided)
        history.record(seconds: self.seconds(at: now), tally: tally)
    }

    /// Seconds since the run started.
    func seconds(at now: UInt64) -> Double { Double(now - startedAt) / 1e9 }

    /// Kept over kept and dropped (rejects are neither), 0 before any.
    var keepRatio: Double {
        tally.kept + tally.dropped > 0 ? Double(tally.kept) / Double(tally.kept + tally.dropped) : 0
    }
}
