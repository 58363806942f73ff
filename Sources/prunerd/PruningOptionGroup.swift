// The DBP options shared by `serve`, `offline` and `fidelity`, with the reason
// for each default in its help text. Every option is optional here so that a
// configuration file can sit between the built-in default and the command line.
import ArgumentParser
import PrunerConfig
import PrunerCore

extension KeepMode: ExpressibleByArgument {}
extension CentroidUpdate: ExpressibleByArgument {}

/// Command-line spelling of `PruningOptions`.
struct PruningOptionGroup: ParsableArguments, Sendable {
    @Option(name: .customLong(ServeOptions.keepRatio.name),
            help: "Fraction ρ of records to keep, 0 < ρ ≤ 1 (default 0.3: near the DBP paper's LAION result, which kept 27.7% of the data; the authors' prune.py defaults its --prune-ratio, the share kept, to 0.8).")
    var keepRatio: Double?

    @Option(name: .customLong(ServeOptions.clusters.name),
            help: "Number of concepts k (default 100: the default --warmup, 300·k, gives k-means 300 records per concept; raise k with the data: the authors' prune.py defaults to 10000 concepts for its 50M records, one per ~5000).")
    var clusters: Int?

    @Option(name: .customLong(ServeOptions.temperature.name),
            help: "Softmax temperature τ over complexities; lower concentrates the budget on complex concepts (default 0.1, the value every fidelity figure in docs/fidelity.md was measured at; the authors' prune.py defaults to 0.5, a budget closer to even).")
    var temperature: Double?

    @Option(name: .customLong(ServeOptions.neighbors.name),
            help: "Nearest other centroids averaged into d_inter (default 20, as in the paper).")
    var neighbors: Int?

    @Option(name: .customLong(ServeOptions.minPerCluster.name),
            help: "Floor per concept: floor_j = min(max(1, ⌊F·M/k⌋), n_j − 1), M the records kept (default 0: a floor of 1, the complexities decide the rest; the authors' prune.py defaults its --cls-bal-ratio F to 0.5, which guarantees every concept half an even share, and gives a floor of 1 only at 0).")
    var minPerCluster: Double?

    @Option(name: .customLong(ServeOptions.keep.name),
            help: "Which members a concept keeps: hard (farthest from the centroid, the paper's choice; default), easy or random.")
    var keep: KeepMode?

    @Option(name: .customLong(ServeOptions.seed.name), help: "Seed of every random choice (default 0); same input and seed give the same decisions.")
    var seed: UInt64?

    @Option(name: .customLong(ServeOptions.kmeansIterations.name), help: "Maximum Lloyd iterations of spherical k-means (default 40).")
    var kmeansIterations: Int?

    @Option(name: .customLong(ServeOptions.warmup.name),
            help: "Streaming: records buffered before the first decision, to seed concepts and statistics (default 300·k, 30000 at k = 100: each warm-up centroid is a mean of ~300 members; memory 4·d bytes per record while warming up). k-means runs on the longer of this and --lookahead: no record is decided before the look-ahead has filled anyway.")
    var warmup: Int?

    @Option(name: .customLong(ServeOptions.recomputeEvery.name),
            help: "Streaming: records between quota and threshold recomputes (default 1000: a recompute costs k²·d flops, noise in the budget stays small).")
    var recomputeEvery: Int?

    @Option(name: .customLong(ServeOptions.update.name),
            help: "Streaming: centroids after warm-up: auto (default: online when the warm-up is in concept order, as a crawl emitting one site at a time, else frozen), frozen (fastest; most faithful on shuffled streams) or online (follow the stream; held records are assigned again when decided).")
    var update: CentroidUpdate?

    @Option(name: .customLong(ServeOptions.lookahead.name),
            help: "Streaming: valid records held back before they are decided, so each decision sees that many later records (default 20000: on short streams this brings the kept set within 3% of the batch recipe's, see docs/fidelity.md; it costs latency, not memory, with frozen centroids; 0: decide on arrival, for reply mode).")
    var lookahead: Int?

    @Option(name: .customLong(ServeOptions.dedupThreshold.name),
            help: "Near-duplicate removal ε: a record with cosine > 1 − ε to an earlier record of its concept is dropped as duplicate and kept out of the statistics (default 0: off; 0.05 is SemDeDup's usual setting).")
    var dedupThreshold: Double?

    @Option(name: .customLong(ServeOptions.dedupMemory.name),
            help: "Streaming: vectors remembered per concept for the duplicate check (default 512: recall 0.97–0.99 against exact SemDeDup on the real data and synthetic mixtures, within a 25% throughput cost; 1024 reaches 0.9995 on the real data at ~1.5× the CPU; memory ≤ k·N·(2d + 36) bytes, per-record cost: a popcount compare per remembered member plus d flops per member whose sketch is near). Not live.")
    var dedupMemory: Int?

    @Option(name: .customLong(ServeOptions.minScore.name),
            help: "Drop records whose score is below this as low_score before clustering; records without a score pass (default: no filter).")
    var minScore: Float?

    @Option(name: .customLong(ServeOptions.halfLife.name),
            help: "Streaming: half-life in records of the concepts' statistics, so quotas follow the stream (default 0: no decay, most faithful on shuffled data).")
    var halfLife: Int?

    @Option(name: .customLong(ServeOptions.spawnAfter.name),
            help: "Streaming drift: far records pooled before a dense group of them spawns a new concept, retiring the most stale one (default 0: off; for concept-ordered crawls at k = 100, 50 with --drift-quantile 0.9 and --update online measured best).")
    var spawnAfter: Int?

    @Option(name: .customLong(ServeOptions.driftQuantile.name),
            help: "Streaming drift: a record is far when its distance exceeds this quantile of the warm-up distances (default 0.95).")
    var driftQuantile: Double?

    /// What these options say, as command-line values of the option table.
    func record(into values: inout CommandLineValues) {
        values.set(ServeOptions.keepRatio, keepRatio)
        values.set(ServeOptions.clusters, clusters)
        values.set(ServeOptions.temperature, temperature)
        values.set(ServeOptions.neighbors, neighbors)
        values.set(ServeOptions.minPerCluster, minPerCluster)
        values.set(ServeOptions.keep, keep)
        values.set(ServeOptions.seed, seed)
        values.set(ServeOptions.kmeansIterations, kmeansIterations)
        values.set(ServeOptions.warmup, warmup)
        values.set(ServeOptions.recomputeEvery, recomputeEvery)
        values.set(ServeOptions.update, update)
        values.set(ServeOptions.lookahead, lookahead)
        values.set(ServeOptions.dedupThreshold, dedupThreshold)
        values.set(ServeOptions.dedupMemory, dedupMemory)
        values.set(ServeOptions.minScore, minScore)
        values.set(ServeOptions.halfLife, halfLife)
        values.set(ServeOptions.spawnAfter, spawnAfter)
        values.set(ServeOptions.driftQuantile, driftQuantile)
    }

    /// The options without a configuration file: command line, else built-in default.
    func options() throws -> PruningOptions {
        var values = CommandLineValues()
        record(into: &values)
        return try resolvingForCommandLine { () throws(SettingsError) in try PruningOptions(layers: SettingsLayers(commandLine: values)) }
    }
}
