// `prunerd fidelity`: the harness that measures how close the streaming engine
// is to the exact batch recipe on any input, in any order.
import ArgumentParser
import PrunerCore
import PrunerDaemon
import PrunerEvaluation

struct FidelityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fidelity",
        abstract: "Measure streaming vs. batch DBP on an input: keep ratio and kept-set overlaps.",
        discussion: """
            Streams the records through the engine (in-process, same code as serve) in the chosen \
            order, then runs the offline recipe with the stream's final centroids and with its own \
            k-means (seed S and S+1), and prints: realised keep ratio; overlap |S∩O|/|O| with the \
            offline kept set on the stream's centroids; end-to-end overlap with plain offline; and \
            the offline-vs-offline overlap of two seeds (the batch recipe's own run-to-run noise), with \
            its min/mean/max over seeds +1…+3; and the overlap of offline-on-the-stream's-centroids with \
            plain offline, which isolates what the centroids cost from what the streaming decisions cost.
            """)

    enum Order: String, ExpressibleByArgument, CaseIterable {
        case asIs = "as-is"
        case shuffled
        case sortedByLabel = "sorted-by-label"
    }

    @OptionGroup var input: InputOptions

    @Option(name: .customLong("order"), parsing: .upToNextOption,
            help: "Stream order(s): as-is, shuffled, sorted-by-label (needs --labels). Several print side by side.")
    var orders: [Order] = [.shuffled]

    @Option(name: .customLong("labels"), help: "One label per row (for --order sorted-by-label).")
    var labels: String?

    @Option(name: .customLong("order-seed"), help: "Seed of the shuffle.")
    var orderSeed: UInt64 = 1

    @Option(name: .customLong("limit"), help: "Use only the first N rows.")
    var limit: Int?

    @Option(name: .customLong("batch-size"), help: "Records per submit call (decisions do not depend on it).")
    var batchSize: Int = 512

    @OptionGroup var pruning: PruningOptionGroup

    func run() throws {
        let options = try pruning.options()
        let (streams, matrices) = try input.resolve()
        guard (streams.count == 1) != (matrices != nil), streams.count <= 1 else {
            throw ValidationError("fidelity reads one input: a record file, or matrices (.npy/.npz shards, a folder)")
        }
        let (loaded, rejected) = try matrices.map { try RecordFileLoader.load(stream: $0) } ?? RecordFileLoader.load(streams[0])
        let rows = min(loaded.rowCount, limit ?? Int.max)
        // k-means over no rows trapped (a precondition), as did --limit 0.
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, not \(limit)") }
        guard rows > 0 else { throw ValidationError("fidelity needs records: the input holds none") }
        let d = loaded.dimension
        var labelList: [Substring] = []
        if let labels {
            labelList = String(decoding: try FileSystem.readFile(atPath: labels), as: UTF8.self)
                .split(separator: "\n", omittingEmptySubsequences: false)
            guard labelList.count >= rows else { throw ValidationError("--labels has \(labelList.count) lines for \(rows) rows") }
        }
        print("input: \(input.inputs.joined(separator: " ")): \(rows) rows × \(d) (\(rejected) rejected records left out)")
        print("options: keep-ratio \(options.keepRatio), clusters \(options.clusters), temperature \(options.temperature), "
              + "update \(options.update.rawValue), warmup \(options.warmup), recompute-every \(options.recomputeEvery), seed \(options.seed)")
        for order in orders {
            var permutation = Array(0..<rows)
            switch order {
            case .asIs: break
            case .shuffled:
                var random = SplitMix64(seed: orderSeed)
                permutation.shuffle(using: &random)
            case .sortedByLabel:
                guard !labelList.isEmpty else { throw ValidationError("--order sorted-by-label needs --labels") }
                permutation.sort { (labelList[$0], $0) < (labelList[$1], $1) }
            }
            var vectors = [Float]()
            vectors.reserveCapacity(rows * d)
            loaded.vectors.withUnsafeBufferPointer { all in
                for row in permutation { vectors.append(contentsOf: all[row * d..<(row + 1) * d]) }
            }
            let report = Fidelity.report(vectors: vectors, dimension: d, options: options, batchSize: batchSize)
            print("\norder: \(order.rawValue)")
            print(report.description)
        }
    }
}
