// The block-skipping quantile must give exactly what a bin-by-bin scan gives.
import Testing
@testable import PrunerCore

@Suite struct ConceptStatisticsQuantileTests {
    /// The definition: the first non-empty bin where the running count reaches the target, interpolated.
    func reference(_ histogram: [UInt32], total: Int, _ q: Double) -> Float {
        guard total > 0 else { return 0 }
        let target = min(max(q, 0), 1) * Double(total)
        var cumulative = 0.0
        let width = 2.0 / Double(ConceptStatistics.binCount)
        for b in 0..<ConceptStatistics.binCount {
            let c = Double(histogram[b])
            if c > 0 && cumulative + c >= target { return Float((Double(b) + (target - cumulative) / c) * width) }
            cumulative += c
        }
        return 2
    }

    @Test func matchesABinByBinScan() {
        var rng = Xoshiro256StarStar(seed: 11)
        for trial in 0..<40 {
            var s = ConceptStatistics(dimension: 1, reservoirCapacity: 0)
            let members = [0, 1, 5, 300, 20_000][trial % 5]
            for i in 0..<members {
                // Clustered distances, some at the range ends.
                let u = rng.nextUnit()
                let distance = Float(i % 97 == 0 ? (u < 0.5 ? 0 : 2) : 0.3 + 0.4 * u * u)
                s.add(distance: distance, vector: nil, rng: &rng)
            }
            for q in [0, 1e-9, 0.01, 0.3, 0.5, 0.7, 0.999, 1] {
                #expect(s.quantile(q).bitPattern == reference(s.histogram, total: s.count, q).bitPattern)
            }
        }
    }
}
