import Foundation
import Testing
@testable import PrunerCore

@Suite struct TuningTrace {
    @Test func trace() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["PRUNER_TRACE"] == "1", let (all, d) = TestData.realEmbeddings() else { return }
        let vectors = TestData.shuffled(all, dimension: d, seed: 42)
        var o = PruningOptions()
        o.lookahead = 0
        var engine = try StreamingPruner(options: o, dimension: d)
        let n = vectors.count / d
        var start = 0
        while start < n {
            var batch = RecordBatch(dimension: d)
            for i in start..<min(n, start + 1000) { batch.append(origin: .init(source: 0, seq: UInt64(i)), id: "", score: nil, vector: vectors[(i * d)..<(i * d + d)]) }
            _ = engine.submit(batch)
            start += 1000
            if start == 5000 {
                for (j, c) in engine.snapshot().concepts.enumerated() where c.keptCount != c.quota {
                    print("  concept \(j) size \(c.size) quota \(c.quota) kept \(c.keptCount) thr \(c.threshold ?? -1) hist nonzero bins: \(engine.stats[j].histogram.filter { $0 > 0 }.count)")
                }
            }
            let s = engine.snapshot()
            let q = s.concepts.map(\.quota).reduce(0, +)
            let target = s.concepts.map { Double($0.quota) / Double(max($0.size, 1)) * Double($0.decidedCount) }.reduce(0, +)
            let rsum = s.concepts.map { $0.targetKeepRate * Double($0.decidedCount) }.reduce(0, +)
            print("n=\(start) kept=\(s.kept) dropped=\(s.dropped) ratio=\(s.realisedKeepRatio) Σquota=\(q) Σr·decided=\(Int(target)) Σr'·dec=\(Int(rsum))")
        }
    }
}
