// The names of all inputs ever seen, shared by the loop thread (which adds
// connections) and the engine worker (which formats log lines).
import Synchronization
import PrunerIO

/// Input names by source index, with their JSON-escaped spelling cached.
final class SourceTable: Sendable {
    struct Source: Sendable {
        var name: String
        var escapedName: [UInt8]
        var replies: Bool
        /// Its lines are not written with their batch but handed to its input, which writes
        /// them once Redis has committed them (an entry of a Redis stream, docs/scale-out.md).
        var defers = false
    }

    private let sources = Mutex<[Source]>([])

    /// Registers an input name and returns its source index.
    func register(name: String, replies: Bool = false) -> UInt32 {
        sources.withLock { sources in
            sources.append(Source(name: name, escapedName: DecisionLineFormatter.jsonEscaped(name), replies: replies))
            return UInt32(sources.count - 1)
        }
    }

    /// The index of `name` registered without replies (a file input a checkpoint
    /// names: its held records and its resumed ones share one source), registering it if new.
    func fileSource(name: String) -> UInt32 {
        sources.withLock { sources in
            if let index = sources.firstIndex(where: { $0.name == name && !$0.replies }) { return UInt32(index) }
            sources.append(Source(name: name, escapedName: DecisionLineFormatter.jsonEscaped(name), replies: false))
            return UInt32(sources.count - 1)
        }
    }

    /// Gives a source index a new name (a Redis stream's slot reused for its next entry,
    /// once every line of the previous one is written: batches snapshot the table when
    /// they are formatted, so no line of the old entry can get the new name).
    func rename(_ source: UInt32, to name: String) {
        sources.withLock { sources in
            sources[Int(source)].name = name
            sources[Int(source)].escapedName = DecisionLineFormatter.jsonEscaped(name)
        }
    }

    /// Makes a source's lines wait for its input's commit (`Source.defers`).
    func setDefers(_ source: UInt32) {
        sources.withLock { $0[Int(source)].defers = true }
    }

    /// A consistent copy for one batch's formatting (copy-on-write: cheap).
    func snapshot() -> [Source] {
        sources.withLock { $0 }
    }
}
