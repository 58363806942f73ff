// What the daemon drives: something that takes batches and returns decisions
// in arrival order. `prunerd serve` drives the streaming engine; `prunerd
// offline` the batch recipe, which decides everything at the end.
import PrunerCore

/// A decision maker driven by the daemon, one call at a time, off the loop thread.
public protocol DecisionEngine: AnyObject {
    /// Decisions for the records now decidable, in arrival order.
    func submit(_ batch: RecordBatch) -> DecidedRecords
    /// End of all input: decisions for everything still held.
    func finish() -> DecidedRecords
    /// The final centroids (k × d, row-major) for `--save-centroids`; empty if none.
    var centroids: [Float] { get }
    /// The dimension of the centroids, once known.
    var dimension: Int? { get }
    /// Number of concepts (0 before the engine has any).
    var conceptCount: Int { get }
    /// A copy of the kernel that will assign the next batch, for assigning it
    /// ahead on another thread; nil when there is none or it may change first.
    var aheadKernel: NearestCentroid? { get }
    /// The engine's state as a versioned checkpoint, or nil when it keeps none.
    func checkpoint() -> [UInt8]?
    /// Applies options that can change live; throws, changing nothing, for those that cannot.
    /// - Returns: the options it replaced (the reload line names what changed).
    func reload(_ options: PruningOptions) throws -> PruningOptions
    /// Adds the engine's figures (per-concept table) to the status document.
    func writeStatus(into json: inout JSONWriter)
    /// Valid records the warm-up holds and waits for; nil when there is none (over, or an offline engine).
    var warmupProgress: (seen: Int, target: Int)? { get }
    /// Origins of the records held undecided (a restart's Redis input does not hand them in again).
    var heldOrigins: [RecordOrigin] { get }
    /// What the operator should read once, as it happens (what the warm-up's k-means did and
    /// which centroid update `auto` chose; the offline k-means): taken by the caller, each once.
    func takeNotices() -> [String]
}

extension DecisionEngine {
    public var warmupProgress: (seen: Int, target: Int)? { nil }
    public var heldOrigins: [RecordOrigin] { [] }
    public func takeNotices() -> [String] { [] }
}

/// The streaming DBP engine behind `prunerd serve`. Created on the first batch,
/// when the dimension is known (or at once from given centroids).
///
/// The engine takes the valid records' rows and answers them in arrival order; this
/// driver keeps every record's origin, id and rejection in `order` and pairs them.
public final class StreamingEngine: DecisionEngine, @unchecked Sendable {
    let options: PruningOptions
    private let givenCentroids: [Float]?
    /// Every record handed in and not yet answered, in arrival order (the engine holds their rows).
    private var order = ArrivalOrder()
    /// Set from this file and from `StreamingEngine+Cluster.swift` (a cluster shard adopts centroids).
    var pruner: StreamingPruner? {
        didSet {
            let threads = assignmentThreads
            if pruner != nil && pruner!.assignmentThreads != threads { pruner!.assignmentThreads = threads }
            if pruner != nil && pruner!.kernel != kernel { pruner!.kernel = kernel }
        }
    }
    /// The assignment kernel's shape (the CLI's reading of PRUNERD_SCREEN and friends); decisions do not depend on it.
    public var kernel = KernelChoice.fastest {
        didSet { pruner?.kernel = kernel }
    }
    /// Threads sharing nearest-centroid assignment (`--threads`); decisions do not depend on it.
    public var assignmentThreads = 1 {
        didSet { pruner?.assignmentThreads = assignmentThreads }
    }

    /// Cluster mode: an engine made by the first batch waits for the cluster's centroids
    /// instead of fitting its own at the end of warm-up (`StreamingEngine+Cluster.swift`).
    var waitsForClusterCentroids = false

    /// - Parameter centroids: `--centroids`, k × dimension, or nil to seed from the warm-up.
    public init(options: PruningOptions, centroids: (values: [Float], dimension: Int)?) throws {
        self.options = options
        self.givenCentroids = centroids?.values
        if let centroids {
            pruner = try StreamingPruner(options: options, dimension: centroids.dimension, centroids: centroids.values)
        }
    }

    /// Resumes from a checkpoint written by `checkpoint()`. Throws, loading nothing,
    /// when the bytes are damaged or were written under incompatible options.
    public init(restoringCheckpoint bytes: [UInt8], options: PruningOptions) throws {
        self.options = options
        self.givenCentroids = nil
        let restored = try StreamingPruner.restoring(checkpoint: bytes, options: options)
        self.pruner = restored.engine
        self.order = restored.order
    }

    /// Valid records the warm-up holds and waits for; nil once it is over. Read only while the engine is idle.
    public var warmupProgress: (seen: Int, target: Int)? {
        guard let pruner else { return (0, options.warmup) }
        return pruner.warmupProgress
    }

    public func submit(_ batch: RecordBatch) -> DecidedRecords {
        if pruner == nil {
            // Cannot fail: no centroids were given, so nothing can disagree.
            pruner = try! StreamingPruner(options: options, dimension: batch.dimension, centroids: givenCentroids)
            pruner!.waitsForClusterCentroids = waitsForClusterCentroids
        }
        let wasWarmingUp = pruner!.isWarmingUp
        order.append(batch)
        let decided = order.pair(pruner!.submit(batch.rows))
        if wasWarmingUp && !pruner!.isWarmingUp { noteWarmupEnd() }
        return decided
    }

    public func finish() -> DecidedRecords {
        let wasWarmingUp = pruner?.isWarmingUp ?? false
        let decided = order.pair(pruner?.finish() ?? [])
        if wasWarmingUp { noteWarmupEnd() }
        return decided
    }

    private var notices: [String] = []

    public func takeNotices() -> [String] {
        defer { notices = [] }
        return notices
    }

    /// The warm-up just ended: what its k-means did and which centroid update is in force.
    private func noteWarmupEnd() {
        guard let pruner else { return }
        var parts = ["warm-up done"]
        if let fit = pruner.warmupFit { parts.append(fit.description) }
        let update: String
        switch options.update {
        case .auto:
            if let divergence = pruner.orderDivergence, let bar = pruner.orderDivergenceBar {
                update = "\(pruner.movesCentroids ? "online" : "frozen") (auto: the warm-up's concept-order divergence "
                    + "\(Self.figure(divergence)) is \(pruner.movesCentroids ? "above" : "within") the bar \(Self.figure(bar)))"
            } else {
                update = "frozen (auto: too short a warm-up to tell the stream's order)"
            }
        case .online: update = "online (--update online)"
        case .frozen: update = "frozen (--update frozen)"
        }
        parts.append("centroid update: \(update)")
        notices.append(parts.joined(separator: "; "))
    }

    /// Three decimals are what the choice needs.
    private static func figure(_ x: Double) -> String { "\((x * 1000).rounded() / 1000)" }

    public var centroids: [Float] { pruner?.centroids ?? [] }

    /// Origins of the records the engine holds undecided (restored from a checkpoint, or read since).
    public var heldOrigins: [RecordOrigin] { order.origins }
    public var dimension: Int? { pruner?.dimension }
    public var conceptCount: Int { pruner == nil ? 0 : options.clusters }
    public var aheadKernel: NearestCentroid? { pruner?.aheadKernel }

    public func checkpoint() -> [UInt8]? { pruner?.checkpoint(order: order) }

    public func reload(_ newOptions: PruningOptions) throws -> PruningOptions {
        guard pruner != nil else {
            // No record yet: nothing to keep consistent with; the next batch starts with these.
            throw ReloadError(reason: "no record has arrived yet; restart to change options before the first record")
        }
        let replaced = pruner!.options
        try pruner!.reload(newOptions)
        return replaced
    }

    /// With online updates: how many records margin re-assignment kept on their concept with
    /// one dot product and how many it re-scored in full (docs/performance.md), for the stop log.
    public var marginSummary: String? {
        guard let pruner, pruner.movesCentroids else { return nil }
        let c = pruner.marginCounts
        func share(_ part: Int, of total: Int) -> String {
            total == 0 ? "0" : String(Double((1000 * part + total / 2) / total) / 10) + "%"
        }
        let held = c.heldKept + c.heldRescored, arrivals = c.arrivalsKept + c.arrivalsRescored
        return "re-assignment by margins: held records re-scored in full \(c.heldRescored) of \(held) "
            + "(\(share(c.heldRescored, of: held))); ahead-assigned arrivals corrected \(arrivals), "
            + "re-scored \(c.arrivalsRescored) (\(share(c.arrivalsRescored, of: arrivals)))"
    }

    public func writeStatus(into json: inout JSONWriter) {
        guard let snapshot = pruner?.snapshot().including(order) else { return }
        json.field("warming_up", snapshot.isWarmingUp ? 1 : 0)
        if let warmup = pruner?.warmupProgress {
            json.field("warmup_records", warmup.seen)
            json.field("warmup_target", warmup.target)
        }
        json.field("centroid_update", snapshot.isWarmingUp && options.update == .auto ? "auto"
                   : (snapshot.movesCentroids ? "online" : "frozen"))
        if let divergence = snapshot.orderDivergence { json.field("order_divergence", divergence) }
        json.field("pending_in_engine", snapshot.pending)
        json.key("concepts")
        json.openArray()
        for (index, concept) in snapshot.concepts.enumerated() {
            json.open()
            json.conceptFields(cluster: index, size: concept.size, dIntra: concept.dIntra, dInter: concept.dInter,
                               complexity: concept.complexity, quota: concept.quota, threshold: concept.threshold)
            json.field("target_keep_rate", concept.targetKeepRate)
            json.field("kept", concept.keptCount)
            json.field("decided", concept.decidedCount)
            json.field("keep_rate", concept.realisedKeepRate)
            json.close()
        }
        json.closeArray()
    }
}

/// The exact batch recipe behind `prunerd offline`: holds every record, decides at the end.
public final class OfflineEngine: DecisionEngine, @unchecked Sendable {
    private let options: PruningOptions
    private let givenCentroids: [Float]?
    private var all: RecordBatch?
    private var result: OfflineResult?
    public private(set) var dimension: Int?
    /// The assignment kernel's shape (decisions do not depend on it).
    public var kernel = KernelChoice.fastest
    /// Threads for k-means and assignment (`--threads`; decisions do not depend on it).
    public var threads = 1
    private var notices: [String] = []

    public func takeNotices() -> [String] {
        defer { notices = [] }
        return notices
    }

    public init(options: PruningOptions, centroids: (values: [Float], dimension: Int)?) {
        self.options = options
        self.givenCentroids = centroids?.values
        if let centroids {
            all = RecordBatch(dimension: centroids.dimension)
            dimension = centroids.dimension
        }
    }

    public func submit(_ batch: RecordBatch) -> DecidedRecords {
        if all == nil {
            all = RecordBatch(dimension: batch.dimension)
            dimension = batch.dimension
        }
        all!.append(contentsOf: batch)
        return DecidedRecords()
    }

    public func finish() -> DecidedRecords {
        guard let all, !all.isEmpty else { return DecidedRecords() }
        var scores = [Float?](repeating: nil, count: all.rowCount)
        for entry in all.entries where entry.row >= 0 { scores[Int(entry.row)] = entry.score }
        let result = OfflinePruner.run(vectors: all.vectors, dimension: all.dimension, options: options,
                                       centroids: givenCentroids, scores: scores, kernel: kernel, threads: threads)
        self.result = result
        if let fit = result.fit { notices.append(fit.description) }
        var decided = DecidedRecords()
        decided.entries = all.entries
        decided.decisions = all.entries.map { entry in
            if entry.row < 0 { return .passThrough(entry) }
            return result.decision(forRow: Int(entry.row))
        }
        self.all = nil
        return decided
    }

    public var centroids: [Float] { result?.centroids ?? [] }
    public var conceptCount: Int { result?.concepts.count ?? 0 }
    public var aheadKernel: NearestCentroid? { nil }
    public func checkpoint() -> [UInt8]? { nil }

    public func reload(_ options: PruningOptions) throws -> PruningOptions {
        throw ReloadError(reason: "the offline recipe has no live options")
    }

    public func writeStatus(into json: inout JSONWriter) {
        guard let result else { return }
        json.key("concepts")
        json.openArray()
        for (index, concept) in result.concepts.enumerated() {
            json.open()
            json.conceptFields(cluster: index, size: concept.size, dIntra: concept.dIntra, dInter: concept.dInter,
                               complexity: concept.complexity, quota: concept.quota, threshold: result.thresholds[index])
            json.field("keep_rate", concept.size > 0 ? Double(concept.quota) / Double(concept.size) : 0)
            json.close()
        }
        json.closeArray()
    }
}

/// A reload that cannot be applied; the running configuration is kept.
public struct ReloadError: Error, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }
}

extension JSONWriter {
    /// The columns every engine reports for a concept in `prunerd status`.
    mutating func conceptFields(cluster: Int, size: Int, dIntra: Double, dInter: Double, complexity: Double,
                                quota: Int, threshold: Float?) {
        field("cluster", cluster)
        field("size", size)
        field("d_intra", dIntra)
        field("d_inter", dInter)
        field("complexity", complexity)
        field("quota", quota)
        field("threshold", threshold.map(Double.init))
    }
}
