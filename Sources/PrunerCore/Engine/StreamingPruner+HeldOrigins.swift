// Which records the engine holds undecided, by origin: what a restart from a
// checkpoint will decide by itself, so an input delivered again (a Redis
// stream's pending entry) must not hand those records in a second time.

extension StreamingPruner {
    /// The origins of every record held undecided: the warm-up buffer and the look-ahead.
    public var heldOrigins: [RecordOrigin] {
        warmupBuffer.entries.map(\.origin) + queue.records.map(\.entry.origin)
    }
}
