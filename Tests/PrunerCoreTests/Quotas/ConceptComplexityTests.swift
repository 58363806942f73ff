import Testing
@testable import PrunerCore

@Suite struct ConceptComplexityTests {
    // Three centroids in 3-D: e1, e2 and their bisector b = (e1 + e2)/√2.
    let s = Float(0.5).squareRoot()
    var centroids: [Float] { [1, 0, 0, 0, 1, 0, s, s, 0] }

    @Test func dInterAveragesTheNearestOtherCentroids() {
        let near = 1 - Double(s)   // 1 − cos 45° ≈ 0.29289
        let l1 = ConceptComplexity.dInter(centroids: centroids, dimension: 3, neighbors: 1)
        for (a, b) in zip(l1, [near, near, near]) { #expect(abs(a - b) < 1e-6) }
        let l2 = ConceptComplexity.dInter(centroids: centroids, dimension: 3, neighbors: 2)
        for (a, b) in zip(l2, [(near + 1) / 2, (near + 1) / 2, near]) { #expect(abs(a - b) < 1e-6) }
        // l is capped at k − 1, and a single concept has d_inter = 1.
        #expect(ConceptComplexity.dInter(centroids: centroids, dimension: 3, neighbors: 20) == l2)
        #expect(ConceptComplexity.dInter(centroids: [0, 0, 1], dimension: 3, neighbors: 5) == [1])
    }

    @Test("d_inter (blocked Gram matrix, l nearest selected) equals pairwise dots and a full sort, bit for bit", arguments: [1, 7, 20, 58])
    func dInterSelectionEqualsFullSort(neighbors: Int) {
        for (d, k) in [(16, 60), (20, 59)] { dInterSelectionEqualsFullSort(neighbors: neighbors, d: d, k: k) }
    }

    /// d = 20 and k = 59 take the Gram matrix's tail paths (lanes past 16, rows past a multiple of 4).
    func dInterSelectionEqualsFullSort(neighbors: Int, d: Int, k: Int) {
        // Repeated centroids give ties.
        var c = TestData.mixture(rows: k, dimension: d, concepts: 4, seed: 9).vectors
        for t in 0..<d { c[5 * d + t] = c[3 * d + t]; c[11 * d + t] = c[3 * d + t] }
        let l = min(neighbors, k - 1)
        let reference = (0..<k).map { i -> Double in
            var row = [Double]()
            c.withUnsafeBufferPointer { p in
                for j in 0..<k where j != i {
                    let (a, b) = i <= j ? (i, j) : (j, i)
                    row.append(1 - Double(VectorMath.dot(p.baseAddress! + a * d, p.baseAddress! + b * d, d)))
                }
            }
            row.sort()
            return row.prefix(l).reduce(0, +) / Double(l)
        }
        #expect(ConceptComplexity.dInter(centroids: c, dimension: d, neighbors: neighbors) == reference)
    }

    @Test func dIntraAndComplexityFromMembers() {
        // Members of e1: (1,0,0) at distance 0 and (0.6,0,0.8) at distance 0.4 → d_intra = 0.2.
        // Member of e2: (0,1,0) at 0. Member of b: b itself at 0.
        let vectors: [Float] = [1, 0, 0, 0.6, 0, 0.8, 0, 1, 0, s, s, 0]
        var o = PruningOptions()
        o.clusters = 3; o.neighbors = 1; o.keepRatio = 0.5
        let r = OfflinePruner.run(vectors: vectors, dimension: 3, options: o, centroids: centroids)
        #expect(r.assignments == [0, 0, 1, 2])
        #expect(abs(r.concepts[0].dIntra - 0.2) < 1e-6)
        #expect(abs(r.concepts[0].complexity - 0.2 * (1 - Double(s))) < 1e-6)
        #expect(r.concepts[1].complexity == 0)
        #expect(r.quotas.reduce(0, +) == 2)
    }
}
