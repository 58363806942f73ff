// The DBP options shared by `serve`, `offline` and `fidelity`, with the
// reason for each default in its help text.
import ArgumentParser
import PrunerCore

extension KeepMode: ExpressibleByArgument {}
extension CentroidUpdate: ExpressibleByArgument {}

/// Command-line spelling of `PruningOptions`.
struct PruningOptionGroup: ParsableArguments {
    @Option(name: .customLong("keep-ratio"),
            help: "Fraction ρ of records to keep, 0 < ρ ≤ 1. Default 0.3: near the DBP paper's LAION result (27.7% of the data).")
    var keepRatio: Double = PruningOptions().keepRatio

    @Option(name: .customLong("clusters"),
            help: "Number of concepts k. Default 100: about 1 concept per few hundred records at the scale of a warm-up; raise for larger data.")
    var clusters: Int = PruningOptions().clusters

    @Option(name: .customLong("temperature"),
            help: "Softmax temperature τ over complexities. Default 0.1: the DBP paper's value; lower concentrates the budget on complex concepts.")
    var temperature: Double = PruningOptions().temperature

    @Option(name: .customLong("neighbors"),
            help: "Nearest other centroids averaged into d_inter. Default 20, as in the paper.")
    var neighbors: Int = PruningOptions().neighbors

    @Option(name: .customLong("min-per-cluster"),
            help: "F in floor_j = min(max(1, ⌊F·M/k⌋), n_j − 1). Default 0: a floor of 1, as in the authors' scripts.")
    var minPerCluster: Double = PruningOptions().minPerCluster

    @Option(name: .customLong("keep"),
            help: "Which members a concept keeps: hard (farthest from the centroid, the paper's choice), easy or random.")
    var keep: KeepMode = PruningOptions().keep

    @Option(name: .customLong("seed"), help: "Seed of every random choice; same input and seed give the same decisions.")
    var seed: UInt64 = PruningOptions().seed

    @Option(name: .customLong("kmeans-iterations"), help: "Maximum Lloyd iterations of spherical k-means.")
    var kmeansIterations: Int = PruningOptions().kmeansIterations

    @Option(name: .customLong("warmup"),
            help: "Streaming: records buffered before the first decision, to seed concepts and statistics. Default 5000: ~50 per concept at k = 100.")
    var warmup: Int = PruningOptions().warmup

    @Option(name: .customLong("recompute-every"),
            help: "Streaming: records between quota and threshold recomputes. Default 1000: cheap (k² d flops) and fresh.")
    var recomputeEvery: Int = PruningOptions().recomputeEvery

    @Option(name: .customLong("update"),
            help: "Streaming: centroids after warm-up, frozen (most faithful to the batch recipe) or online (follow the stream).")
    var update: CentroidUpdate = PruningOptions().update

    /// The options as the core takes them.
    func options() throws -> PruningOptions {
        var options = PruningOptions()
        options.keepRatio = keepRatio
        options.clusters = clusters
        options.temperature = temperature
        options.neighbors = neighbors
        options.minPerCluster = minPerCluster
        options.keep = keep
        options.seed = seed
        options.kmeansIterations = kmeansIterations
        options.warmup = warmup
        options.recomputeEvery = recomputeEvery
        options.update = update
        if let message = options.validationError() { throw ValidationError(message) }
        return options
    }
}
