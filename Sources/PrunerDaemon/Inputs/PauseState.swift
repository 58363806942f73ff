// Pauses of reading and how long they lasted: for all inputs at once (the
// backpressure decision) and for each input as its sender feels it.
//
// An input's pause begins when its reading stops for backpressure and ends
// when the input is read again — not when the daemon decides to resume: after
// a resume every connection waits for its turn, and reading may pause again
// before that turn comes. So a sender blocked in `send` is inside a pause of
// its input, save for the time the kernel's socket buffer takes to drain
// (docs/reliability.md measures it).

/// A pause state and cumulative paused time (loop time, ns).
struct PauseState {
    /// The pause in progress: when it began and why (nil: the input is read).
    private(set) var current: (since: UInt64, notice: PauseNotice)?
    /// Paused time of the pauses that ended.
    private(set) var endedNanos: UInt64 = 0
    /// Pauses begun.
    private(set) var pauses = 0

    /// Whether the input is paused now.
    var isPaused: Bool { current != nil }

    /// Reading stops at `now`; returns false when the input was paused already (one pause, first reason).
    mutating func begin(_ notice: PauseNotice, at now: UInt64) -> Bool {
        guard current == nil else { return false }
        current = (now, notice)
        pauses += 1
        return true
    }

    /// The input is read again at `now`; returns how long the pause lasted (nil: none was in progress).
    mutating func end(at now: UInt64) -> UInt64? {
        guard let pause = current else { return nil }
        current = nil
        let nanos = now >= pause.since ? now - pause.since : 0
        endedNanos += nanos
        return nanos
    }

    /// How long the current pause has lasted at `now` (0 when reading).
    func currentNanos(at now: UInt64) -> UInt64 {
        guard let pause = current, now >= pause.since else { return 0 }
        return now - pause.since
    }

    /// All paused time up to `now`, the current pause included.
    func totalNanos(at now: UInt64) -> UInt64 { endedNanos + currentNanos(at: now) }
}
