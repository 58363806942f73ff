import Foundation
import Testing
@testable import PrunerCore

/// Exploration harness (enabled with PRUNER_TUNE=1): sweeps engine settings on the real data.
@Suite struct TuningExploration {
    @Test func sweep() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["PRUNER_TUNE"] == "1", let (all, d) = TestData.realEmbeddings() else { return }
        let vectors = TestData.shuffled(all, dimension: d, seed: 42)
        var base = PruningOptions()
        base.clusters = 100
        let update = env["UPDATE"] == "online" ? CentroidUpdate.online : .frozen
        base.update = update
        for spec in (env["CONFIGS"] ?? "5000,5000,1000,1").split(separator: ";") {
            let f = spec.split(separator: ",").map { Double($0)! }
            var o = base
            o.warmup = Int(f[0]); o.lookahead = Int(f[1]); o.recomputeEvery = Int(f[2])
            let (keep, cents) = Fidelity.stream(vectors: vectors, dimension: d, options: o, gain: f[3])
            let off = OfflinePruner.run(vectors: vectors, dimension: d, options: o, centroids: cents)
            let kept = keep.filter { $0 }.count
            var parts = ""
            for (a, b) in [(0, 5000), (5000, 10000), (10000, 20000), (20000, 35000), (35000, 40000)] {
                let ks = Array(keep[a..<b]), ko = Array(off.keep[a..<b])
                parts += " [\(a / 1000)k: S \(ks.filter { $0 }.count) O \(ko.filter { $0 }.count) both \(zip(ks, ko).filter { $0 && $1 }.count)]"
            }
            print(parts)
            print("W=\(o.warmup) L=\(o.lookahead) R=\(o.recomputeEvery) gain=\(f[3]) \(update): ratio \(Double(kept) / Double(keep.count)) overlap \(Fidelity.overlap(keep, off.keep))")
        }
    }
}
