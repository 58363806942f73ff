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

    /// Every Float maps to a bin: a distance out of [0, 2] (centroids that were not unit
    /// vectors, once restored from a damaged checkpoint) must not trap the Int conversion.
    @Test func everyDistanceHasABin() {
        let last = ConceptStatistics.binCount - 1
        for (distance, bin) in [(-Float.infinity, 0), (-1e30, 0), (-0.5, 0), (.nan, 0), (0, 0), (1, ConceptStatistics.binCount / 2),
                                (1.9999, last), (2, last), (3e30, last), (.infinity, last)] as [(Float, Int)] {
            #expect(ConceptStatistics.bin(of: distance) == bin, "distance \(distance)")
        }
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

    @Test("block sums follow every way the histogram changes: add, merge, decay, whole assignment")
    func blockSumsFollowEveryChange() {
        var rng = Xoshiro256StarStar(seed: 5)
        func filled(_ n: Int, centre: Double) -> ConceptStatistics {
            var s = ConceptStatistics(dimension: 1, reservoirCapacity: 0)
            for _ in 0..<n { s.add(distance: Float(centre + 0.2 * rng.nextUnit()), vector: nil, rng: &rng) }
            return s
        }
        func expectExact(_ s: ConceptStatistics, sourceLocation: SourceLocation = #_sourceLocation) {
            for q in [0.01, 0.25, 0.5, 0.9, 0.999] {
                #expect(s.quantile(q).bitPattern == reference(s.histogram, total: s.count, q).bitPattern,
                        sourceLocation: sourceLocation)
            }
        }
        var a = filled(3000, centre: 0.2)
        a.merge(filled(5000, centre: 0.9))
        expectExact(a)
        var decayRNG = Xoshiro256StarStar(seed: 9)
        a.decay(by: 0.3, rng: &decayRNG)
        expectExact(a)
        var b = ConceptStatistics(dimension: 1, reservoirCapacity: 0)
        b.histogram = a.histogram
        b.count = a.count
        expectExact(b)
    }
}
