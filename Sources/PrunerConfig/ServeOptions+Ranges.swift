// The values each numeric option of `prunerd serve` accepts, for docs/options.md,
// with a value just outside and one at the edge of each range, so that
// ServeOptionRangeTests holds the page to what the settings really refuse.
import PrunerCore
import PrunerDaemon

/// What values an option accepts, as a reader of docs/options.md needs it.
public struct AcceptedValues: Sendable {
    /// The range as the page states it: "1 … 100000", "(0, 1]".
    public let text: String
    /// Values just outside the range: each is refused with a usage error naming the option.
    public let refused: [Double]
    /// Values at its edges: each is accepted.
    public let accepted: [Double]
    /// Other settings the option needs to be checked at all (`--sync-every` is read with `--cluster` only).
    public let context: [String: ConfigFile.Value]

    init(_ text: String, refused: [Double], accepted: [Double], context: [String: ConfigFile.Value] = [:]) {
        self.text = text
        self.refused = refused
        self.accepted = accepted
        self.context = context
    }
}

extension ServeOptions {
    /// The accepted values of every number and integer option, by option name. A numeric
    /// option missing here is a test failure, so a new one cannot go undocumented.
    public static let acceptedValues: [String: AcceptedValues] = {
        let members = Double(PruningOptions.maxRememberedMembers)
        return [
            claimAfter.name: AcceptedValues("> 0 seconds", refused: [0, -1], accepted: [0.001]),
            decisionsMaxlen.name: AcceptedValues("≥ 1 entries", refused: [0], accepted: [1],
                                                 context: ["decisions": .string("redis://127.0.0.1:1/verdicts")]),
            checkpointEvery.name: AcceptedValues("0 … 1e9 seconds (0: at start and stop only)", refused: [-1, 1.0e9 + 1],
                                                 accepted: [0, 1e9]),
            threads.name: AcceptedValues("any integer (below 1 counts as 1)", refused: [], accepted: [0, 1, 64]),
            maxRecordSize.name: AcceptedValues("≥ 16 bytes", refused: [15], accepted: [16]),
            maxConnections.name: AcceptedValues("≥ 1", refused: [0], accepted: [1]),
            connectionBuffer.name: AcceptedValues("≥ 4096 bytes", refused: [4095], accepted: [4096]),
            maxReplyBacklog.name: AcceptedValues("≥ 4096 bytes", refused: [4095], accepted: [4096]),
            maxHold.name: AcceptedValues("≥ 0 seconds (0: off)", refused: [-1], accepted: [0]),
            expectedRecords.name: AcceptedValues("1 … 2^32", refused: [0, 4_294_967_297], accepted: [1, 4_294_967_296]),
            syncEvery.name: AcceptedValues("0.05 … 3600 seconds", refused: [0.04, 3601], accepted: [0.05, 3600],
                                           context: ["cluster": .string("redis://127.0.0.1:1/pruner")]),
            keepRatio.name: AcceptedValues("(0, 1]", refused: [0, 1.01], accepted: [0.001, 1]),
            clusters.name: AcceptedValues("1 … \(PruningOptions.maxClusters)", refused: [0, Double(PruningOptions.maxClusters + 1)],
                                          accepted: [1, Double(PruningOptions.maxClusters)]),
            temperature.name: AcceptedValues("> 0", refused: [0, -0.1], accepted: [0.001]),
            neighbors.name: AcceptedValues("≥ 1 (capped at k − 1)", refused: [0], accepted: [1]),
            minPerCluster.name: AcceptedValues("≥ 0", refused: [-0.1], accepted: [0]),
            seed.name: AcceptedValues("0 … 2^64 − 1", refused: [-1], accepted: [0]),
            warmup.name: AcceptedValues("≥ 0", refused: [-1], accepted: [0]),
            lookahead.name: AcceptedValues("≥ 0 (0: decide on arrival)", refused: [-1], accepted: [0]),
            recomputeEvery.name: AcceptedValues("≥ 1", refused: [0], accepted: [1]),
            kmeansIterations.name: AcceptedValues("≥ 1", refused: [0], accepted: [1]),
            dedupThreshold.name: AcceptedValues("[0, 1) (0: off)", refused: [-0.01, 1], accepted: [0, 0.99]),
            dedupMemory.name: AcceptedValues("1 … 2^20", refused: [0, members + 1], accepted: [1, members]),
            minScore.name: AcceptedValues("any finite number", refused: [.infinity], accepted: [-1e30]),
            halfLife.name: AcceptedValues("≥ 0 (0: off)", refused: [-1], accepted: [0]),
            spawnAfter.name: AcceptedValues("0 … 2^20 (0: off)", refused: [-1, members + 1], accepted: [0, members]),
            driftQuantile.name: AcceptedValues("(0, 1)", refused: [0, 1], accepted: [0.01, 0.99]),
        ]
    }()
}
