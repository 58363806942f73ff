// Record-to-decision latency: from the moment a record's bytes were read to the
// moment its decision line was written. Decisions leave in the order records
// arrived (one engine job at a time, warm-up released in arrival order), so a
// FIFO of (records read so far, read time) pairs is all the bookkeeping needed.
import DequeModule

/// A log-bucketed latency histogram (about 4% resolution from 1 µs to 10⁴ s).
public struct LatencyHistogram: Sendable {
    private static let bucketsPerDoubling = 16
    private static let bucketCount = 64 * bucketsPerDoubling
    private var counts = [UInt64](repeating: 0, count: LatencyHistogram.bucketCount)
    public private(set) var total: UInt64 = 0

    public init() {}

    /// Adds `count` samples of `nanoseconds`.
    public mutating func add(nanoseconds: UInt64, count: UInt64 = 1) {
        let microseconds = max(1.0, Double(nanoseconds) / 1000)
        let index = min(Self.bucketCount - 1, Int(log2(microseconds) * Double(Self.bucketsPerDoubling)))
        counts[index] += count
        total += count
    }

    /// The q-quantile in milliseconds (upper edge of its bucket), or 0 when empty.
    public func quantileMilliseconds(_ q: Double) -> Double {
        guard total > 0 else { return 0 }
        let rank = UInt64((Double(total) * q).rounded(.up))
        var seen: UInt64 = 0
        for (index, count) in counts.enumerated() where count > 0 {
            seen += count
            if seen >= rank { return exp2(Double(index + 1) / Double(Self.bucketsPerDoubling)) / 1000 }
        }
        return 0
    }
}

/// Pairs read times with write completions.
struct LatencyTracker {
    /// (records read so far, when), oldest first; a pair leaves once its records are all written.
    private var reads = Deque<(end: UInt64, at: UInt64)>()
    private var written: UInt64 = 0
    private(set) var histogram = LatencyHistogram()

    /// `total` records have been read so far, the last of them at `at` (ns).
    mutating func recordRead(total: UInt64, at: UInt64) {
        if let last = reads.last, last.end == total { return }
        reads.append((total, at))
    }

    /// Decision lines for the first `total` records are on disk at `at` (ns).
    mutating func recordWritten(total: UInt64, at: UInt64) {
        while let read = reads.first, written < total {
            let upTo = min(read.end, total)
            if upTo > written {
                histogram.add(nanoseconds: at &- read.at, count: upTo - written)
                written = upTo
            }
            if read.end <= total { reads.removeFirst() } else { break }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
