// Where a daemon's run stands, as one value instead of four flags: every
// question the daemon asks about its run ("may a connection be accepted?", "has
// the engine been told the input ended?") reads this, and each step of the end
// moves it forward exactly once.

/// The stages of a run, in the order they are passed. A pipe-mode run (every input
/// ended by itself) goes from `running` straight to `finishing`; a stop signal
/// passes through `stopping` first.
enum Lifecycle: Equatable {
    /// Inputs may bring more records.
    case running
    /// A stop signal closed the listeners and inputs; the records already read are
    /// still handed to the engine.
    case stopping
    /// No input can bring more records and the engine was told so (or, `suspended`,
    /// its held records stay undecided for the checkpoint); its last outputs are on their way.
    case finishing(suspended: Bool, stopped: Bool)
    /// Every decision is delivered; the last checkpoint and the log's writes run, then the loop closes.
    case shuttingDown(suspended: Bool)

    /// Whether a stop signal came (new connections and inputs are closed at once).
    var isStopping: Bool {
        switch self {
        case .running: false
        case .stopping: true
        case .finishing(_, let stopped): stopped
        case .shuttingDown: true
        }
    }

    /// Whether the engine has been told the input ended (or was suspended instead).
    var engineFinished: Bool {
        switch self {
        case .running, .stopping: false
        case .finishing, .shuttingDown: true
        }
    }

    /// Whether the stop left the engine's held records undecided for the checkpoint (`--suspend-on-stop`).
    var isSuspended: Bool {
        switch self {
        case .running, .stopping: false
        case .finishing(let suspended, _), .shuttingDown(let suspended): suspended
        }
    }

    /// Whether the shutdown (last checkpoint, closing every handle) has begun.
    var isShuttingDown: Bool {
        if case .shuttingDown = self { return true }
        return false
    }
}
