// The screens (AMX bfloat16, VNNI int8) may only save work: every assignment and
// similarity must be the float32 kernel's, bit for bit, including near-ties.
// Each test runs once per screen kind; a kind this CPU lacks is cancelled (skipped) with a message.
import CMatrixTiles
import Testing
@testable import PrunerCore

@Suite("Centroid screens")
struct CentroidScreenTests {
    typealias Kind = NearestCentroid.ScreenKind

    /// Skips the running case when this CPU cannot run `kind`.
    private func requireSupport(_ kind: Kind) throws {
        guard kind.isSupported else {
            let message = "this CPU cannot run the \(kind.summary) (\(kind.rawValue)); supported here: "
                + "\(Kind.supported.map(\.rawValue))"
            print("skipped: \(message)")
            try Test.cancel(Comment(rawValue: message))
        }
    }

    /// Both kernels over the same rows, with 1 and 2 threads; the screened one must actually screen.
    /// Returns the panels per row the screen left to exact scoring.
    @discardableResult
    private func expectIdentical(_ kind: Kind, centroids: [Float], rows: [Float], dimension d: Int,
                                 sourceLocation: SourceLocation = #_sourceLocation) -> Double {
        let plain = NearestCentroid(centroids: centroids, dimension: d, screen: nil)
        #expect(!plain.isScreened, sourceLocation: sourceLocation)
        let b = plain.assign(rows: rows)
        for threads in [1, 2] {
            var screened = NearestCentroid(centroids: centroids, dimension: d, screen: kind)
            screened.threads = threads
            #expect(screened.screenKind == kind, sourceLocation: sourceLocation)
            let a = screened.assign(rows: rows)
            #expect(a.assignments == b.assignments, "\(threads) threads", sourceLocation: sourceLocation)
            #expect(a.similarities.map(\.bitPattern) == b.similarities.map(\.bitPattern), "\(threads) threads",
                    sourceLocation: sourceLocation)
        }
        let screened = NearestCentroid(centroids: centroids, dimension: d, screen: kind)
        return screened.screenedPanelsPerRow(rows: rows) ?? .nan
    }

    @Test("real embeddings at k = 100, 500 and 1000: identical to float32; pruning rate printed",
          .enabled(if: TestData.realEmbeddings() != nil, "needs the shared real embeddings"),
          arguments: Kind.allCases, [100, 500, 1000])
    func realEmbeddings(kind: Kind, k: Int) throws {
        try requireSupport(kind)
        let (vectors, d) = try #require(TestData.realEmbeddings())
        let rows = Array(vectors[0..<(6_000 * d)])
        // Centroids: spherical k-means on other rows, as the engine would have them.
        let sample = Array(vectors[(20_000 * d)..<(30_000 * d)])
        let centroids = SphericalKMeans.fit(vectors: sample, dimension: d, k: k, iterations: 5, seed: 3)
        let panels = expectIdentical(kind, centroids: centroids, rows: rows, dimension: d)
        let total = (k + 15) / 16
        print("\(kind.rawValue) screen, real embeddings, k = \(k): \(panels) of \(total) panels per row "
              + "scored exactly (\(((1 - panels / Double(total)) * 100).rounded())% pruned)")
        #expect(panels < Double(total) / 2, "the screen must prune most panels on real data")
    }

    @Test("synthetic mixtures, d up to 768, k not a multiple of 16", arguments: Kind.allCases)
    func mixtures(kind: Kind) throws {
        try requireSupport(kind)
        for (k, d, n) in [(250, 768, 400), (333, 384, 500), (45, 96, 301)] {
            let rows = TestData.mixture(rows: n, dimension: d, concepts: 20, seed: UInt64(k)).vectors
            let centroids = TestData.mixture(rows: k, dimension: d, concepts: 20, seed: UInt64(k + 1)).vectors
            let panels = expectIdentical(kind, centroids: centroids, rows: rows, dimension: d)
            print("\(kind.rawValue) screen, mixture k = \(k), d = \(d): \(panels) of \((k + 15) / 16) panels per row")
        }
    }

    @Test("near-ties: centroid pairs 1e-5 and 3e-3 apart in different panels, exact duplicates, rows between them", arguments: Kind.allCases)
    func nearTies(kind: Kind) throws {
        try requireSupport(kind)
        var random = Xoshiro256StarStar(seed: 7)
        let d = 384, pairs = 40
        // Centroid j's twin is centroid pairs + j: in another panel, so the screen must keep both.
        var bases = [Float](), twins = [Float]()
        for i in 0..<pairs {
            var c = (0..<d).map { _ in Float(TestData.gaussian(&random)) }
            TestData.normalise(&c)
            // Every fifth pair is an exact duplicate: a tie the lower index must win. Others are
            // 1e-5 apart (one quantisation), or 3e-3 (below int8's error, so its order is noise).
            let spread: Float = i % 2 == 0 ? 1e-5 : 3e-3
            var twin = i % 5 == 0 ? c : c.map { $0 + Float(TestData.gaussian(&random)) * spread }
            TestData.normalise(&twin)
            bases += c
            twins += twin
        }
        let centroids = bases + twins
        // Rows: midpoints of the pairs plus small noise, and exact copies of centroids.
        var rows = [Float]()
        for i in 0..<600 {
            let j = i % pairs
            var x = (0..<d).map { t in centroids[j * d + t] + centroids[(pairs + j) * d + t]
                + Float(TestData.gaussian(&random)) * (i % 3 == 0 ? 0 : 1e-3) }
            TestData.normalise(&x)
            rows += x
        }
        rows += centroids
        expectIdentical(kind, centroids: centroids, rows: rows, dimension: d)
    }

    @Test("odd sizes, zero rows, unnormalised and spiky vectors: padding and the bound's scaling",
          arguments: Kind.allCases)
    func oddSizes(kind: Kind) throws {
        try requireSupport(kind)
        var random = Xoshiro256StarStar(seed: 11)
        for (k, d, n) in [(1, 7, 5), (37, 50, 77), (129, 33, 65), (16, 768, 100), (17, 1, 13), (500, 767, 61)] {
            var centroids = (0..<(k * d)).map { i in Float(TestData.gaussian(&random)) * Float(1 + i / d % 3) }
            // A spike: one large entry, the rest far below int8's step (they all quantise to 0).
            for t in 0..<d { centroids[t] = t == d / 2 ? 10 : Float(TestData.gaussian(&random)) * 1e-3 }
            var rows = [Float]()
            for i in 0..<n {
                var x = (0..<d).map { _ in Float(TestData.gaussian(&random)) }
                if i % 4 == 1 { x[i % d] += 50 }   // spiky rows too
                TestData.normalise(&x)
                rows += x
            }
            rows += [Float](repeating: 0, count: d)   // a zero row: every centroid ties at 0
            expectIdentical(kind, centroids: centroids, rows: rows, dimension: d)
        }
    }

    @Test("int8 packing by its definition: q = rint(127·c/max|c|) + 128 in VPDPBUSD's panel layout, scales, norms",
          arguments: [(1, 1), (5, 7), (16, 384), (37, 50), (129, 260), (33, 767), (20, 1030)])
    func bytePacking(k: Int, d: Int) throws {
        try requireSupport(.vnniInt8)
        var random = Xoshiro256StarStar(seed: UInt64(k * 1000 + d))
        let centroids = (0..<(k * d)).map { i in Float(TestData.gaussian(&random)) * Float(1 + i % 5) }
        let panels = (k + 15) / 16, quads = (d + 3) / 4
        var packed = [UInt8](repeating: 0, count: panels * quads * 64 + 64)
        var scales = [Float](repeating: -1, count: panels * 16)
        var norms = [Float](repeating: -1, count: k), roundingNorms = [Float](repeating: -1, count: k)
        // 64-byte alignment for the packed block (the screen's own storage is aligned).
        packed.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress!, offset = (64 - Int(bitPattern: base) % 64) % 64
            let aligned = (base + offset).assumingMemoryBound(to: UInt8.self)
            pr_bytes_pack(centroids, Int32(k), Int32(d), aligned, &scales, &norms, &roundingNorms)
            let bytes = UnsafeBufferPointer(start: aligned, count: panels * quads * 64)
            for p in 0..<panels {
                for lane in 0..<16 {
                    let j = p * 16 + lane
                    for t in 0..<(quads * 4) {
                        let stored = bytes[(p * quads + t / 4) * 64 + lane * 4 + t % 4]
                        guard j < k, t < d else {
                            #expect(stored == 128, "padding: centroid \(j), dimension \(t)")
                            continue
                        }
                        let c = Array(centroids[(j * d)..<(j * d + d)])
                        let top = c.map(abs).max()!
                        let q = min(127, max(-127, (c[t] * (127 / top)).rounded(.toNearestOrEven)))
                        #expect(stored == UInt8(Int(q) + 128), "centroid \(j), dimension \(t)")
                    }
                    guard j < k else { #expect(scales[j] == 0); continue }
                    let c = centroids[(j * d)..<(j * d + d)].map(Double.init)
                    let top = Float(c.map(abs).max()!)
                    #expect(scales[j] == top / 127)
                    let norm = c.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    #expect(abs(Double(norms[j]) - norm) <= 1e-6 * norm)
                    var error = 0.0
                    for t in 0..<d {
                        let q = Double(bytes[(p * quads + t / 4) * 64 + lane * 4 + t % 4]) - 128
                        error += (c[t] - Double(scales[j]) * q) * (c[t] - Double(scales[j]) * q)
                    }
                    #expect(abs(Double(roundingNorms[j]) - error.squareRoot()) <= 1e-6 * error.squareRoot() + 1e-30)
                }
            }
        }
    }
}
