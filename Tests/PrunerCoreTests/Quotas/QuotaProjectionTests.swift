import Testing
@testable import PrunerCore

@Suite struct QuotaProjectionTests {
    @Test func idealPointIsFeasible() {
        let q = QuotaProjection.quotas(probabilities: [0.5, 0.3, 0.2], sizes: [10, 10, 10], total: 10, floors: [0, 0, 0])
        #expect(q == [5, 3, 2])
    }

    /// ideal [7, 2, 1], cap n_0 = 4: x = [4, 2 + λ, 1 + λ], 4 + 3 + 2λ = 10 → λ = 1.5 → [4, 3.5, 2.5];
    /// floors [4, 3, 2], one unit left, fractional parts tie (.5, .5) → lower index → [4, 4, 2].
    @Test func capsAndTieBreakByIndex() {
        let x = QuotaProjection.continuous(ideal: [7, 2, 1], lower: [1, 1, 1], upper: [4, 10, 10], total: 10)
        #expect(x.map { ($0 * 1e9).rounded() / 1e9 } == [4, 3.5, 2.5])
        let q = QuotaProjection.quotas(probabilities: [0.7, 0.2, 0.1], sizes: [4, 10, 10], total: 10, floors: [1, 1, 1])
        #expect(q == [4, 4, 2])
    }

    /// F = 0.5, M = 20, k = 3: floor = ⌊0.5·20/3⌋ = 3. ideal [18, 1, 1] → [14, 3, 3] (λ = −4).
    @Test func floorsLiftSmallQuotas() {
        let floors = QuotaProjection.floors(sizes: [20, 20, 20], total: 20, minPerCluster: 0.5)
        #expect(floors == [3, 3, 3])
        let q = QuotaProjection.quotas(probabilities: [0.9, 0.05, 0.05], sizes: [20, 20, 20], total: 20, floors: floors)
        #expect(q == [14, 3, 3])
        // floor_j never exceeds n_j − 1 and never goes below 0.
        #expect(QuotaProjection.floors(sizes: [0, 1, 2, 100], total: 100, minPerCluster: 1) == [0, 0, 1, 25])
    }

    @Test func sumIsExactAndBoundsHoldOnRandomInputs() {
        var rng = Xoshiro256StarStar(seed: 7)
        for _ in 0..<300 {
            let k = 1 + rng.nextInt(below: 30)
            let sizes = (0..<k).map { _ in rng.nextInt(below: 50) }
            var p = (0..<k).map { j in sizes[j] > 0 ? rng.nextUnit() + 1e-3 : 0 }
            let z = p.reduce(0, +)
            if z > 0 { p = p.map { $0 / z } }
            let capacity = sizes.reduce(0, +)
            let m = rng.nextInt(below: capacity + 1)
            let floors = QuotaProjection.floors(sizes: sizes, total: m, minPerCluster: rng.nextUnit())
            let q = QuotaProjection.quotas(probabilities: p, sizes: sizes, total: m, floors: floors)
            #expect(q.reduce(0, +) == m)
            let floorsKept = floors.reduce(0, +) <= m
            for j in 0..<k {
                #expect(q[j] <= sizes[j] && q[j] >= 0)
                if floorsKept { #expect(q[j] >= floors[j]) }
            }
        }
    }

    @Test func lowerTemperatureConcentratesOnTheMostComplexConcept() {
        let sizes = [1000, 1000, 1000]
        let c = [0.10, 0.20, 0.30]
        var previous = -1
        for tau in [10.0, 1.0, 0.3, 0.1, 0.03, 0.001] {
            let p = ConceptComplexity.probabilities(complexity: c, sizes: sizes, temperature: tau)
            let q = QuotaProjection.quotas(probabilities: p, sizes: sizes, total: 300, floors: [1, 1, 1])
            #expect(q[2] >= previous)
            #expect(q[2] >= q[1] && q[1] >= q[0])
            previous = q[2]
        }
        #expect(previous == 298)   // everything but the two floors
    }

    @Test func infiniteTemperatureIsUniformUpToBounds() {
        let p = ConceptComplexity.probabilities(complexity: [0.1, 0.5, 0.9, 0.3], sizes: [100, 100, 100, 10], temperature: 1e12)
        let q = QuotaProjection.quotas(probabilities: p, sizes: [100, 100, 100, 10], total: 100, floors: [1, 1, 1, 1])
        #expect(q == [30, 30, 30, 10])
    }

    @Test func infeasibleRequestsKeepTheTotal() {
        // M > Σ n: everything is kept.
        #expect(QuotaProjection.quotas(probabilities: [0.5, 0.5], sizes: [3, 4], total: 10, floors: [1, 1]) == [3, 4])
        // M < Σ floors: floors are dropped so that Σ N = M still holds:
        // ideal [0.4, 0.4, 1.2] is feasible → floors [0, 0, 1], the spare unit to the largest fraction (index 0).
        let q = QuotaProjection.quotas(probabilities: [0.2, 0.2, 0.6], sizes: [10, 10, 10], total: 2, floors: [2, 2, 2])
        #expect(q.reduce(0, +) == 2)
        #expect(q == [1, 0, 1])
        // Empty concepts get nothing.
        #expect(QuotaProjection.quotas(probabilities: [1, 0], sizes: [5, 0], total: 3, floors: [1, 0]) == [3, 0])
    }
}
