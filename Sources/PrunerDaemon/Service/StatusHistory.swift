// A bounded time series of the daemon's totals for `prunerd status` and
// `prunerd report` (keep ratio and rejects over time). Memory is fixed
// whatever the uptime: when the buffer is full every other sample is dropped
// and the sampling interval doubles, so the whole run stays covered, at least
// `capacity / 2` samples, ever coarser the longer it runs.

/// Cumulative totals sampled at ever-doubling intervals.
struct StatusHistory {
    /// One sample: seconds since the daemon started and the totals then.
    struct Sample {
        var seconds: Double
        var records: Int
        var kept: Int
        var dropped: Int
        var rejected: Int
    }

    private(set) var samples: [Sample] = []
    /// Seconds between kept samples (doubles each time the buffer fills).
    private(set) var interval: Double
    let capacity: Int

    init(capacity: Int = 240, interval: Double = 1) {
        self.capacity = max(4, capacity)
        self.interval = interval
        samples.reserveCapacity(self.capacity)
        samples.append(Sample(seconds: 0, records: 0, kept: 0, dropped: 0, rejected: 0))
    }

    /// Offers the totals at `seconds`; kept when an interval has passed since the last sample.
    mutating func record(seconds: Double, tally: DecisionTally) {
        if let last = samples.last, seconds - last.seconds < interval * 0.999 { return }
        samples.append(Sample(seconds: seconds, records: tally.total, kept: tally.kept, dropped: tally.dropped,
                              rejected: tally.rejected))
        if samples.count >= capacity {
            // Keep the first sample (the run's start) and every other one after it.
            samples = samples.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            interval *= 2
        }
    }

    /// `"history": {"interval_seconds": s, "columns": [...], "samples": [[...], ...]}`,
    /// ending with the totals at `now` (so the last point is always current).
    func write(into json: inout JSONWriter, now: Double, tally: DecisionTally) {
        json.key("history")
        json.open()
        json.field("interval_seconds", interval)
        json.key("columns")
        json.openArray()
        for name in ["seconds", "records", "kept", "dropped", "rejected"] { json.element(name) }
        json.closeArray()
        json.key("samples")
        json.openArray()
        var rows = samples
        rows.append(Sample(seconds: now, records: tally.total, kept: tally.kept, dropped: tally.dropped,
                           rejected: tally.rejected))
        for sample in rows {
            json.openArray()
            json.element(sample.seconds)
            for count in [sample.records, sample.kept, sample.dropped, sample.rejected] { json.element(count) }
            json.closeArray()
        }
        json.closeArray()
        json.close()
    }
}
