// Assigning batches ahead of the engine (what the daemon does on other threads)
// must not change a single decision, whatever kernel the batch was assigned with.
import Testing
@testable import PrunerCore

@Suite struct AheadAssignmentTests {
    @Test(arguments: [CentroidUpdate.frozen, .online])
    func aheadAssignmentChangesNoDecision(update: CentroidUpdate) throws {
        var o = PruningOptions()
        o.clusters = 8; o.warmup = 500; o.lookahead = 300; o.recomputeEvery = 100
        o.update = update; o.kmeansIterations = 10
        let v = StreamingPrunerTests.small.vectors
        let batches = Drive.batches(v, dimension: 16, cuts: Drive.randomCuts(n: 3000, seed: 4), rejectEvery: 37)

        var plain = try PairedPruner(options: o, dimension: 16)
        let reference = Drive.run(&plain, batches)

        // A kernel of other centroids: ahead results from it must be ignored.
        let foreign = NearestCentroid(centroids: Array(v[0..<(8 * 16)]), dimension: 16)
        var engine = try PairedPruner(options: o, dimension: 16)
        var out = DecidedRecords()
        var kernel: NearestCentroid?   // read one batch late, like the daemon
        var usedAhead = 0
        for (index, original) in batches.enumerated() {
            var batch = original
            if index % 5 == 4 {
                batch.assignAhead(with: foreign)
            } else if let kernel {
                batch.assignAhead(with: kernel)
                usedAhead += 1
            }
            kernel = engine.aheadKernel
            out.append(contentsOf: engine.submit(batch))
        }
        out.append(contentsOf: engine.finish())
        #expect(out.decisions == reference.decisions)
        #expect(out.entries.map(\.origin) == reference.entries.map(\.origin))
        // Frozen centroids offer their kernel after warm-up; online ones only with a screened
        // kernel, whose runner-up bounds correct what the centroids moved since (margins).
        #expect(update == .frozen || NearestCentroid.isScreeningAvailable ? usedAhead > 0 : usedAhead == 0)
    }
}
