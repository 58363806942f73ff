// A progress line on stderr in the style of tqdm, for runs over files started
// from a terminal: percentage and bar when the size is known, records, rate,
// kept share, warm-up, ETA. Nothing at all when stderr is not a terminal (logs,
// pipes, systemd), so scripts see the same output as before.
import PrunerDaemon
#if canImport(Glibc)
import Glibc
#endif

/// One self-overwriting status line on stderr.
final class ProgressMeter {
    private let total: UInt64?
    private let startedAt: Double
    private var lastDrawAt = 0.0
    private var lastWidth = 0
    private var done: UInt64 = 0
    private var records = 0
    private var kept: Int?
    private var decided: Int?
    private var warmup: (seen: Int, target: Int)?

    /// A meter when stderr is a terminal, else nil.
    /// - Parameter total: the input's size in bytes, when known (for the bar and the ETA).
    static func standardError(total: UInt64?, unit: String = "bytes") -> ProgressMeter? {
        guard isatty(2) == 1, getenv("PRUNERD_NO_PROGRESS") == nil else { return nil }
        return ProgressMeter(total: total)
    }

    /// The input's size, when known.
    var totalBytes: UInt64? { total }

    private init(total: UInt64?) {
        self.total = total
        startedAt = Self.now()
    }

    /// Bytes of the input read so far, and records.
    func bytes(_ bytes: UInt64, records: Int) {
        done = bytes
        self.records = records
        drawIfDue()
    }

    /// Records so far (size unknown).
    func records(_ count: Int) {
        records = count
        drawIfDue()
    }

    /// A daemon's figures: records decided, kept, and the warm-up while it lasts.
    func decisions(read bytes: UInt64, records: Int, decided: Int, kept: Int, warmup: (Int, Int)?) {
        done = bytes
        self.records = records
        self.decided = decided
        self.kept = kept
        self.warmup = warmup
        drawIfDue()
    }

    /// The final line, then a newline so what follows starts on its own line.
    func finish() {
        draw()
        printToStandardError("\n")
    }

    private func drawIfDue() {
        let now = Self.now()
        guard now - lastDrawAt >= 0.2 else { return }
        lastDrawAt = now
        draw()
    }

    private func draw() {
        let elapsed = max(1e-3, Self.now() - startedAt)
        var parts: [String] = []
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let width = 20
            let filled = Int((fraction * Double(width)).rounded(.down))
            let bar = String(repeating: "█", count: filled) + String(repeating: " ", count: width - filled)
            parts.append("\(String(format0: fraction * 100).leftPadded(3))%|\(bar)|")
        }
        if let warmup, warmup.seen < warmup.target {
            parts.append("warm-up \(compact(warmup.seen))/\(compact(warmup.target))")
        }
        parts.append("\(compact(records)) records")
        if let decided, let kept, decided > 0 {
            parts.append("kept \(String(format1: 100 * Double(kept) / Double(decided)))%")
        }
        parts.append("\(compact(Int(Double(records) / elapsed)))/s")
        var line = parts.joined(separator: " ") + " [\(clock(elapsed))"
        if let total, total > 0, done > 0, done < total {
            line += "<\(clock(elapsed * Double(total - done) / Double(done)))"
        }
        line += "]"
        let padding = max(0, lastWidth - line.count)
        lastWidth = line.count
        printToStandardError("\r" + line + String(repeating: " ", count: padding))
    }

    private func compact(_ value: Int) -> String {
        if value >= 10_000_000 { return "\(value / 1_000_000)M" }
        if value >= 1_000_000 { return String(format1: Double(value) / 1e6) + "M" }
        if value >= 10_000 { return "\(value / 1000)k" }
        return "\(value)"
    }

    private func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let (hours, minutes, rest) = (total / 3600, total / 60 % 60, total % 60)
        let two = { (value: Int) in value < 10 ? "0\(value)" : "\(value)" }
        return hours > 0 ? "\(hours):\(two(minutes)):\(two(rest))" : "\(two(minutes)):\(two(rest))"
    }

    private static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

extension String {
    /// No digits after the point.
    init(format0 value: Double) { self = "\(Int(value.rounded(.down)))" }

    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

extension ProgressMeter {
    /// The size of the inputs in the bytes the daemon counts (raw file bytes; a matrix's
    /// uncompressed `.npy` bytes), or nil when one of them is a pipe or stdin.
    static func inputSize(streams: [String], matrices: MatrixStream?) -> UInt64? {
        var total: UInt64 = 0
        for path in streams {
            guard path != "-", case .regularFile(let size) = FileSystem.kind(ofPath: path) else { return nil }
            total += size
        }
        for shard in matrices?.shards ?? [] { total += UInt64(shard.header.dataOffset + shard.header.dataLength) }
        return total
    }

    /// A progress callback for the daemon that draws this meter.
    func daemonCallback() -> @Sendable (DaemonProgress) -> Void {
        let box = MeterBox(self)
        return { progress in box.meter.show(progress) }
    }

    /// Draws a daemon's figures.
    func show(_ progress: DaemonProgress) {
        decisions(read: progress.bytesRead, records: Int(progress.recordsRead), decided: progress.tally.kept + progress.tally.dropped,
                  kept: progress.tally.kept, warmup: progress.warmup)
    }
}

/// Hands the meter to the daemon's callback; only the loop thread (the caller's) touches it.
private final class MeterBox: @unchecked Sendable {
    let meter: ProgressMeter
    init(_ meter: ProgressMeter) { self.meter = meter }
}
