// Where `prunerd report` gets its figures: a running daemon's status document
// (per-concept table and a time series), a checkpoint (the engine's state,
// restored read-only), and a decision log (example ids per concept, and a
// time series when the source has none).
#if canImport(Glibc)
import Glibc
#endif
import PrunerCore
import PrunerDaemon
import SystemPackage

/// Why a report could not be made, naming the source.
struct ReportError: Error, CustomStringConvertible {
    var description: String
}

enum ReportSource {
    /// The status document of a running daemon.
    static func fromStatus(_ text: String, socketPath: String, now: Int64) throws -> ReportData {
        let status: JSONValue
        do { status = try JSONParser.parse(text) } catch {
            throw ReportError(description: "the daemon on \(socketPath) answered something that is not a status document: \(error)")
        }
        var data = ReportData(sourceDescription: "running daemon (control socket \(socketPath))", generatedAt: now)
        data.records = status["records"]?.int ?? 0
        data.kept = status["kept"]?.int ?? 0
        data.dropped = status["dropped"]?.int ?? 0
        data.rejected = status["rejected"]?.int ?? 0
        data.droppedByReason = counts(status["dropped_by_reason"])
        data.rejectedByReason = counts(status["rejected_by_reason"])
        if let uptime = status["uptime_seconds"]?.double { data.facts.append(("uptime", duration(uptime))) }
        if let update = status["centroid_update"]?.string { data.facts.append(("centroids", update)) }
        if status["warming_up"]?.int == 1 {
            let buffered = status["pending_in_engine"]?.int.map { ", \(ReportFormat.grouped($0)) records buffered" } ?? ""
            data.facts.append(("state", "warming up" + buffered))
        }
        if let open = status["open_inputs"]?.int { data.facts.append(("open inputs", String(open))) }
        if let rate = status["records_per_second"]?.double { data.facts.append(("rate", ReportFormat.grouped(Int(rate.rounded())) + " records/s")) }
        for entry in status["concepts"]?.array ?? [] {
            let decided = entry["decided"]?.int
            data.concepts.append(ReportData.Concept(
                cluster: entry["cluster"]?.int ?? data.concepts.count, size: entry["size"]?.int ?? 0,
                dIntra: entry["d_intra"]?.double ?? .nan, dInter: entry["d_inter"]?.double ?? .nan,
                complexity: entry["complexity"]?.double ?? .nan, quota: entry["quota"]?.int ?? 0,
                threshold: entry["threshold"]?.double, targetKeepRate: entry["target_keep_rate"]?.double,
                kept: entry["kept"]?.int, decided: decided,
                keepRate: (decided ?? 0) > 0 ? entry["keep_rate"]?.double : nil))
        }
        data.targetKeepRatio = quotaRatio(data.concepts)
        if let history = status["history"], let samples = history["samples"]?.array, samples.count >= 2 {
            var previous: [Double]?
            for sample in samples {
                guard let row = sample.array?.compactMap(\.double), row.count >= 5 else { continue }
                if let p = previous, row[0] > p[0] {
                    data.timeline.append(ReportData.Interval(start: p[0], end: row[0], kept: Int(row[2] - p[2]),
                                                             dropped: Int(row[3] - p[3]), rejected: Int(row[4] - p[4])))
                }
                previous = row
            }
            let every = history["interval_seconds"]?.double ?? 1
            data.timelineCaption = "From the daemon's status: totals sampled every \(duration(every)) since it started (memory bounded: older samples thin out)."
        } else {
            data.notes.append("This daemon's status has no time series (an older prunerd?); pass --decisions LOG for one from the decision log.")
        }
        return data
    }

    /// A checkpoint file: the engine restored with its own options, read only.
    static func fromCheckpoint(atPath path: String, now: Int64) throws -> ReportData {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(atPath: path) } catch {
            throw ReportError(description: "cannot read checkpoint \(path): \(error)")
        }
        let engine: StreamingPruner, order: ArrivalOrder
        do {
            // A daemon's checkpoint wraps the engine's in a resume point (input positions, log length).
            let bytes = ResumePoint.isResumePoint(bytes) ? try ResumePoint(decoding: bytes).engine : bytes
            if bytes.isEmpty {
                throw ReportError(description: "the checkpoint holds no engine state yet (no record had reached the engine)")
            }
            let options = try StreamingPruner.savedOptions(inCheckpoint: bytes)
            (engine, order) = try StreamingPruner.restoring(checkpoint: bytes, options: options)
        } catch {
            throw ReportError(description: "\(path): \(error)")
        }
        let snapshot = engine.snapshot().including(order)
        var data = ReportData(sourceDescription: "checkpoint \(path)", generatedAt: now)
        data.kept = snapshot.kept
        data.dropped = snapshot.dropped + snapshot.duplicates + snapshot.lowScore
        data.rejected = snapshot.rejected.values.reduce(0, +)
        data.records = data.kept + data.dropped + data.rejected
        if snapshot.dropped > 0 { data.droppedByReason[engine.options.keep == .random ? "not_sampled" : "over_quota"] = snapshot.dropped }
        if snapshot.duplicates > 0 { data.droppedByReason["duplicate"] = snapshot.duplicates }
        if snapshot.lowScore > 0 { data.droppedByReason["low_score"] = snapshot.lowScore }
        for (reason, count) in snapshot.rejected { data.rejectedByReason[reason.rawValue] = count }
        data.targetKeepRatio = engine.options.keepRatio
        data.facts.append(("clusters k", String(engine.options.clusters)))
        data.facts.append(("dimension", String(engine.dimension)))
        data.facts.append(("centroids", snapshot.movesCentroids ? "online" : "frozen"))
        if snapshot.isWarmingUp { data.facts.append(("state", "warming up")) }
        if snapshot.pending > 0 { data.facts.append(("held, undecided", ReportFormat.grouped(snapshot.pending))) }
        data.concepts = snapshot.concepts.enumerated().map { index, c in
            ReportData.Concept(cluster: index, size: c.size, dIntra: c.dIntra, dInter: c.dInter, complexity: c.complexity,
                               quota: c.quota, threshold: c.threshold.map(Double.init), targetKeepRate: c.targetKeepRate,
                               kept: c.keptCount, decided: c.decidedCount,
                               keepRate: c.decidedCount > 0 ? c.realisedKeepRate : nil)
        }
        return data
    }

    /// Σ quota / Σ size: the keep ratio the quotas were projected onto.
    static func quotaRatio(_ concepts: [ReportData.Concept]) -> Double? {
        let size = concepts.reduce(0) { $0 + $1.size }
        return size > 0 ? Double(concepts.reduce(0) { $0 + $1.quota }) / Double(size) : nil
    }

    private static func counts(_ value: JSONValue?) -> [String: Int] {
        guard case .object(let fields)? = value else { return [:] }
        return fields.compactMapValues(\.int)
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return ReportFormat.fixed(seconds * 1000, 0) + " ms" }
        if seconds < 120 { return ReportFormat.fixed(seconds, seconds < 10 ? 1 : 0) + " s" }
        if seconds < 7200 { return ReportFormat.fixed(seconds / 60, 1) + " min" }
        if seconds < 172_800 { return ReportFormat.fixed(seconds / 3600, 1) + " h" }
        return ReportFormat.fixed(seconds / 86_400, 1) + " days"
    }
}

/// One pass over a decision log: the latest example ids per concept and,
/// optionally, decisions per interval of time. Memory is bounded (a few ids per
/// concept, a fixed number of intervals) whatever the log's length.
struct DecisionLogScan {
    var kept: [Int: [String]] = [:]
    var dropped: [Int: [String]] = [:]
    var counter = IntervalCounter()
    var lines = 0
    var malformed = 0
    var firstTimestamp: Int64?

    static func scan(path: String, examples: Int, timeline: Bool) throws -> DecisionLogScan {
        guard let file = fopen(path, "r") else {
            throw ReportError(description: "cannot open decision log \(path): \(Errno(rawValue: errno))")
        }
        defer { fclose(file) }
        var scan = DecisionLogScan()
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while true {
            let count = getline(&line, &capacity, file)
            if count <= 0 { break }
            let bytes = UnsafeRawBufferPointer(start: line, count: count)
            scan.lines += 1
            guard let fields = DecisionLineFields.read(bytes) else {
                scan.malformed += 1
                continue
            }
            if timeline, let ms = fields.milliseconds {
                if scan.firstTimestamp == nil { scan.firstTimestamp = ms }
                scan.counter.add(atMilliseconds: ms, verdict: fields.decision)
            }
            guard examples > 0, let cluster = fields.cluster else { continue }
            if fields.decision == "keep" { remember(fields.id, in: &scan.kept[cluster, default: []], limit: examples) }
            else if fields.decision == "drop" { remember(fields.id, in: &scan.dropped[cluster, default: []], limit: examples) }
        }
        return scan
    }

    /// Keeps the latest `limit` ids (the concept as it is now, after any respawn).
    private static func remember(_ id: String, in list: inout [String], limit: Int) {
        if list.count == limit { list.removeFirst() }
        list.append(id)
    }
}
