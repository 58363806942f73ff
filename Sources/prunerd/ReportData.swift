// What `prunerd report` shows, independent of where it came from (a running
// daemon's status, a checkpoint, a decision log).

/// The figures of one report.
struct ReportData {
    /// One concept's row.
    struct Concept {
        var cluster: Int
        var size: Int
        var dIntra: Double
        var dInter: Double
        var complexity: Double
        var quota: Int
        var threshold: Double?
        var targetKeepRate: Double?
        var kept: Int?
        var decided: Int?
        /// kept / decided, nil while none is decided.
        var keepRate: Double?
        var keptExamples: [String] = []
        var droppedExamples: [String] = []
    }

    /// Decisions made in one interval of time.
    struct Interval {
        /// Seconds since the series' origin.
        var start: Double
        var end: Double
        var kept: Int
        var dropped: Int
        var rejected: Int
    }

    /// What was read, for the page's header ("daemon at unix:/run/…", "checkpoint …").
    var sourceDescription: String
    var generatedAt: Int64
    var records = 0
    var kept = 0
    var dropped = 0
    var rejected = 0
    /// The configured ρ when the source says (checkpoint), else Σ quota / Σ size.
    var targetKeepRatio: Double?
    /// Short facts about the engine ("centroids: online", "warming up"…), label and value.
    var facts: [(String, String)] = []
    var droppedByReason: [String: Int] = [:]
    var rejectedByReason: [String: Int] = [:]
    var concepts: [Concept] = []
    var timeline: [Interval] = []
    /// Where the time series came from, and its origin, for the chart's caption.
    var timelineCaption: String?
    /// Where example ids came from.
    var examplesCaption: String?
    /// What the report could not show and why.
    var notes: [String] = []

    /// Realised kept / (kept + dropped).
    var keepRatio: Double { kept + dropped > 0 ? Double(kept) / Double(kept + dropped) : .nan }
}

/// Counts per interval of time in bounded memory: when `capacity` buckets are
/// not enough, neighbours merge and the bucket width doubles.
struct IntervalCounter {
    private(set) var origin: Int64?
    private(set) var width: Int64
    private(set) var buckets: [(kept: Int, dropped: Int, rejected: Int)] = []
    let capacity: Int

    init(widthMilliseconds: Int64 = 10, capacity: Int = 160) {
        self.width = widthMilliseconds
        self.capacity = capacity
    }

    mutating func add(atMilliseconds ms: Int64, verdict: String) {
        if origin == nil { origin = ms }
        var index = Int(max(0, ms - origin!) / width)
        while index >= capacity {
            var merged: [(kept: Int, dropped: Int, rejected: Int)] = []
            var i = 0
            while i < buckets.count {
                var b = buckets[i]
                if i + 1 < buckets.count {
                    b.kept += buckets[i + 1].kept; b.dropped += buckets[i + 1].dropped; b.rejected += buckets[i + 1].rejected
                }
                merged.append(b)
                i += 2
            }
            buckets = merged
            width *= 2
            index = Int(max(0, ms - origin!) / width)
        }
        while buckets.count <= index { buckets.append((0, 0, 0)) }
        switch verdict {
        case "keep": buckets[index].kept += 1
        case "drop": buckets[index].dropped += 1
        default: buckets[index].rejected += 1
        }
    }

    var intervals: [ReportData.Interval] {
        let seconds = Double(width) / 1000
        return buckets.enumerated().map { index, b in
            ReportData.Interval(start: Double(index) * seconds, end: Double(index + 1) * seconds,
                                kept: b.kept, dropped: b.dropped, rejected: b.rejected)
        }
    }
}
