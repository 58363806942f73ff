// Seeding and Lloyd iterations split across threads must give the centroids one
// thread gives, bit for bit, and the seeding must pick what the textbook
// two-pass k-means++ (update D², then race) picks.
import Testing
@testable import PrunerCore

@Suite("SphericalKMeans threads")
struct SphericalKMeansThreadsTests {
    /// Rows from a mixture, with exact copies placed in both halves of the matrix, so
    /// races see equal keys and equal weights across the threads' ranges.
    static func rowsWithCopies() -> (rows: [Float], dimension: Int) {
        let d = 24
        var (rows, _) = TestData.mixture(rows: 9_000, dimension: d, concepts: 40, seed: 17)
        for copy in 0..<300 {
            let from = copy * 7, to = 4_500 + copy * 11
            for t in 0..<d { rows[to * d + t] = rows[from * d + t] }
        }
        return (rows, d)
    }

    /// The seeding as written before it was split: one pass for D², one for the race.
    static func referenceSeeds(_ vectors: [Float], dimension d: Int, k: Int, seed: UInt64) -> [Float] {
        let n = vectors.count / d
        let keys = SphericalKMeans.rowKeys(vectors, dimension: d, seed: seed)
        var centroids = [Float]()
        var first = SphericalKMeans.race(keys, step: 0, weights: nil)
        var dist = [Double](repeating: .infinity, count: n)
        for c in 0..<k {
            centroids += vectors[(first * d)..<(first * d + d)]
            if c == k - 1 { break }
            var total = 0.0
            for i in 0..<n {
                let dd = max(0, 1 - Double(VectorMath.dot(vectors, i, vectors, first, d)))
                dist[i] = min(dist[i], dd * dd)
                total += dist[i]
            }
            first = SphericalKMeans.race(keys, step: UInt64(c + 1), weights: total > 0 ? dist : nil)
        }
        return centroids
    }

    @Test("seeding with 1, 2 and 3 threads picks the reference's seeds", arguments: [1, 2, 3])
    func seedingMatchesReference(threads: Int) {
        let (rows, d) = Self.rowsWithCopies()
        let reference = Self.referenceSeeds(rows, dimension: d, k: 60, seed: 9)
        let seeds = SphericalKMeans.seedPlusPlus(vectors: rows, dimension: d, k: 60, seed: 9, threads: threads)
        #expect(seeds == reference)
    }

    @Test("seeding where every row is a chosen centre falls back to a uniform draw, alike on any thread count")
    func seedingOfIdenticalRows() {
        let d = 8
        let row: [Float] = [1, 0, 0, 0, 0, 0, 0, 0]
        let rows = (0..<10_000).flatMap { _ in row }
        #expect(SphericalKMeans.seedPlusPlus(vectors: rows, dimension: d, k: 3, seed: 1, threads: 2)
                == Self.referenceSeeds(rows, dimension: d, k: 3, seed: 1))
    }

    @Test("fit with 2 threads gives the 1-thread centroids bit for bit")
    func fitIsThreadIndependent() {
        let (rows, d) = Self.rowsWithCopies()
        let one = SphericalKMeans.fit(vectors: rows, dimension: d, k: 40, iterations: 15, seed: 3, threads: 1)
        let two = SphericalKMeans.fit(vectors: rows, dimension: d, k: 40, iterations: 15, seed: 3, threads: 2)
        #expect(one == two)
    }
}
