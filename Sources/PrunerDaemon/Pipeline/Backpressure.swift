// When the daemon stops and restarts reading: one decision for all inputs,
// taken from the two queues that can grow, records waiting for the engine and
// decision-log bytes waiting for the disk.
//
// Every event that shrinks a queue must ask again (a batch handed to the engine,
// decisions delivered, a log write finished): once every input is paused nothing
// else happens on the loop, so a question not asked then is never asked. Missing
// the log's case left connections paused forever under load (issue 14).

/// Pause and resume of reading, with hysteresis.
struct Backpressure {
    /// A change to apply to every input.
    enum Change {
        case pause(PauseNotice)
        case resume
    }

    /// Records waiting for the engine at which reading pauses.
    let maxPendingRecords: Int
    /// Decision-log bytes waiting for the disk at which reading pauses.
    let maxLogBacklog: Int
    /// Reading paused for all inputs: since when, why, and for how long in all.
    private(set) var state = PauseState()

    /// Whether inputs are paused now; an input opened meanwhile starts paused.
    var isPaused: Bool { state.isPaused }

    init(maxPendingRecords: Int, maxLogBacklog: Int) {
        self.maxPendingRecords = maxPendingRecords
        self.maxLogBacklog = maxLogBacklog
    }

    /// Pauses at either high-water mark; resumes once both queues are below half
    /// of theirs, so reads are not switched on and off for every batch.
    mutating func update(pendingRecords: Int, logBacklog: Int, now: UInt64) -> Change? {
        if !isPaused, pendingRecords >= maxPendingRecords || logBacklog >= maxLogBacklog {
            let notice = PauseNotice(reason: pendingRecords >= maxPendingRecords ? .engine : .log,
                                     queuedRecords: pendingRecords, queuedLogBytes: logBacklog)
            _ = state.begin(notice, at: now)
            return .pause(notice)
        }
        if isPaused, pendingRecords < maxPendingRecords / 2, logBacklog < maxLogBacklog / 2 {
            _ = state.end(at: now)
            return .resume
        }
        return nil
    }
}
