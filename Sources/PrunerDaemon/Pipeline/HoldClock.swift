// `--max-hold`'s clock: when the records still undecided were read. Decisions
// leave in arrival order, so (records read so far, when) pairs, one per 10 ms at
// most, tell when the oldest undecided record arrived.

/// Read times of the records not yet decided, coarsened to 10 ms.
struct HoldClock {
    private var reads: [(total: UInt64, at: UInt64)] = []
    private var head = 0

    /// `total` records have been read so far, the last of them at `now` (ns).
    mutating func noteRead(total: UInt64, at now: UInt64) {
        if reads.count > head, now - reads[reads.count - 1].at < 10_000_000 {
            reads[reads.count - 1].total = total
        } else {
            reads.append((total, now))
        }
    }

    /// When the oldest record not among the first `decided` was read (ns), or nil
    /// when every record read is decided. Forgets the reads decided since the last call.
    mutating func oldestUndecidedRead(decided: UInt64) -> UInt64? {
        while head < reads.count && reads[head].total <= decided { head += 1 }
        if head > 1024 && head * 2 > reads.count {
            reads.removeFirst(head)
            head = 0
        }
        return head < reads.count ? reads[head].at : nil
    }
}
