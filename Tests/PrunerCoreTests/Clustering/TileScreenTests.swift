// The AMX bfloat16 screen may only save work: every assignment and similarity
// must be the float32 kernel's, bit for bit, including near-ties.
import Testing
@testable import PrunerCore

@Suite("TileScreen", .enabled(if: NearestCentroid.isScreeningAvailable, "needs AMX-BF16 (and PRUNERD_TILES not 0)"))
struct TileScreenTests {
    /// Both kernels over the same rows; the screened one must actually screen.
    private func expectIdentical(centroids: [Float], rows: [Float], dimension d: Int, threads: Int = 1,
                                 sourceLocation: SourceLocation = #_sourceLocation) {
        var screened = NearestCentroid(centroids: centroids, dimension: d)
        screened.threads = threads
        let plain = NearestCentroid(centroids: centroids, dimension: d, screening: false)
        #expect(screened.isScreened, sourceLocation: sourceLocation)
        #expect(!plain.isScreened, sourceLocation: sourceLocation)
        let a = screened.assign(rows: rows)
        let b = plain.assign(rows: rows)
        #expect(a.assignments == b.assignments, sourceLocation: sourceLocation)
        #expect(a.similarities.map(\.bitPattern) == b.similarities.map(\.bitPattern), sourceLocation: sourceLocation)
    }

    @Test("real embeddings at k = 100 and 500: identical to float32", .enabled(if: TestData.realEmbeddings() != nil),
          arguments: [100, 500])
    func realEmbeddings(k: Int) throws {
        let (vectors, d) = try #require(TestData.realEmbeddings())
        let rows = Array(vectors[0..<(10_000 * d)])
        // Centroids: spherical k-means on other rows, as the engine would have them.
        let sample = Array(vectors[(20_000 * d)..<(30_000 * d)])
        let centroids = SphericalKMeans.fit(vectors: sample, dimension: d, k: k, iterations: 5, seed: 3)
        expectIdentical(centroids: centroids, rows: rows, dimension: d, threads: 2)
    }

    @Test("near-ties: centroid pairs 1e-5 apart, rows between them")
    func nearTies() {
        var random = Xoshiro256StarStar(seed: 7)
        let d = 384, pairs = 40
        var centroids = [Float]()
        for _ in 0..<pairs {
            var c = (0..<d).map { _ in Float(TestData.gaussian(&random)) }
            TestData.normalise(&c)
            var twin = c.map { $0 + Float(TestData.gaussian(&random)) * 1e-5 }
            TestData.normalise(&twin)
            centroids += c + twin
        }
        // Rows: midpoints of the pairs plus small noise, and exact copies of centroids.
        var rows = [Float]()
        for i in 0..<600 {
            let j = i % pairs
            var x = (0..<d).map { t in centroids[2 * j * d + t] + centroids[(2 * j + 1) * d + t]
                + Float(TestData.gaussian(&random)) * (i % 3 == 0 ? 0 : 1e-3) }
            TestData.normalise(&x)
            rows += x
        }
        rows += centroids
        expectIdentical(centroids: centroids, rows: rows, dimension: d)
    }

    @Test("odd sizes and unnormalised centroids: padding and the bound's scaling")
    func oddSizes() {
        var random = Xoshiro256StarStar(seed: 11)
        for (k, d, n) in [(1, 7, 5), (37, 50, 77), (129, 33, 65), (16, 768, 100)] {
            let centroids = (0..<(k * d)).map { i in Float(TestData.gaussian(&random)) * Float(1 + i / d % 3) }
            var rows = [Float]()
            for _ in 0..<n {
                var x = (0..<d).map { _ in Float(TestData.gaussian(&random)) }
                TestData.normalise(&x)
                rows += x
            }
            rows += [Float](repeating: 0, count: d)   // a zero row: every centroid ties at 0
            expectIdentical(centroids: centroids, rows: rows, dimension: d)
        }
    }
}
