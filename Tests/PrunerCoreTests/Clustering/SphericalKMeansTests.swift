import Testing
@testable import PrunerCore

@Suite struct SphericalKMeansTests {
    @Test func recoversWellSeparatedClusters() {
        let d = 16, k = 5
        var rng = Xoshiro256StarStar(seed: 11)
        var vectors = [Float](), labels = [Int]()
        for i in 0..<1000 {
            let label = i % k
            var v = (0..<d).map { _ in Float(TestData.gaussian(&rng)) * 0.05 }
            v[label * 3] += 1
            TestData.normalise(&v)
            vectors += v; labels.append(label)
        }
        let c = SphericalKMeans.fit(vectors: vectors, dimension: d, k: k, iterations: 40, seed: 1)
        let (a, _) = NearestCentroid(centroids: c, dimension: d).assign(rows: vectors)
        // Each found cluster holds exactly one true label and all of it.
        var map = [Int32: Int]()
        for i in 0..<labels.count {
            if let l = map[a[i]] { #expect(l == labels[i]) } else { map[a[i]] = labels[i] }
        }
        #expect(Set(map.values).count == k)
    }

    @Test func deterministicPerSeed() {
        let (v, _) = TestData.mixture(rows: 600, dimension: 8, concepts: 6, seed: 3)
        let a = SphericalKMeans.fit(vectors: v, dimension: 8, k: 6, iterations: 20, seed: 5)
        let b = SphericalKMeans.fit(vectors: v, dimension: 8, k: 6, iterations: 20, seed: 5)
        let c = SphericalKMeans.fit(vectors: v, dimension: 8, k: 6, iterations: 20, seed: 6)
        #expect(a == b)
        #expect(a != c)
        // Unit centroids.
        for j in 0..<6 { #expect(abs(VectorMath.dot(a, j, a, j, 8) - 1) < 1e-5) }
    }

    @Test func moreClustersThanRowsLeavesExtrasEmpty() {
        let v: [Float] = [1, 0, 0, 1]
        let c = SphericalKMeans.fit(vectors: v, dimension: 2, k: 4, iterations: 5, seed: 0)
        #expect(c.count == 8)
    }

    @Test("coordinated seeding: the same seeds in any row order, and for a record in any encoding")
    func seedingIgnoresOrderAndLastBits() {
        let d = 32, k = 12, n = 2000
        let (v, _) = TestData.mixture(rows: n, dimension: d, concepts: k, seed: 4)
        /// Indices of the rows k-means++ picks as seeds (rows are distinct, so equality identifies them).
        func picked(_ rows: [Float]) -> Set<Int> {
            let c = SphericalKMeans.seedPlusPlus(vectors: rows, dimension: d, k: k, seed: 7)
            return Set((0..<k).map { j in
                (0..<n).first { i in (0..<d).allSatisfy { rows[i * d + $0] == c[j * d + $0] } }!
            })
        }
        let original = picked(v)
        #expect(original.count == k)
        // Reversed order: a generator-drawn seeding picks rows by position, and would differ.
        var reversed = [Float]()
        for i in stride(from: n - 1, through: 0, by: -1) { reversed += v[(i * d)..<(i * d + d)] }
        #expect(Set(picked(reversed).map { n - 1 - $0 }) == original)
        // Rounded through float16 (another wire encoding), the same records are drawn.
        var rounded = v.map { Float(Float16($0)) }
        VectorMath.normaliseRows(&rounded, d)
        #expect(picked(rounded) == original)
    }
}
