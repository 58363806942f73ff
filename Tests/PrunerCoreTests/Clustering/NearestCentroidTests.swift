import Foundation
import Testing
@testable import PrunerCore

@Suite struct NearestCentroidTests {
    /// Brute-force reference with the same tie rule.
    func reference(_ rows: [Float], _ cents: [Float], _ d: Int) -> [Int32] {
        let n = rows.count / d, k = cents.count / d
        return (0..<n).map { i in
            var best = -Float.infinity, arg = 0
            for j in 0..<k {
                var s: Float = 0
                for t in 0..<d { s += rows[i * d + t] * cents[j * d + t] }
                if s > best { best = s; arg = j }
            }
            return Int32(arg)
        }
    }

    @Test func matchesBruteForceOnOddSizes() {
        for (n, k, d) in [(1, 1, 3), (13, 5, 7), (37, 33, 16), (9, 70, 40)] {
            let rows = TestData.mixture(rows: n, dimension: d, concepts: 3, seed: 1).vectors
            let cents = TestData.mixture(rows: k, dimension: d, concepts: 4, seed: 2).vectors
            let nc = NearestCentroid(centroids: cents, dimension: d)
            let (a, s) = nc.assign(rows: rows)
            let ref = reference(rows, cents, d)
            for i in 0..<n {
                // Rounding may differ from the naive sum; accept only equal-similarity disagreements.
                if a[i] != ref[i] {
                    var s2: Float = 0
                    for t in 0..<d { s2 += rows[i * d + t] * cents[Int(ref[i]) * d + t] }
                    #expect(abs(s2 - s[i]) < 1e-5)
                }
            }
        }
    }

    @Test func tiesGoToLowestIndexAndNegativeSimilaritiesWork() {
        let d = 4
        let cents: [Float] = [-1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0]   // centroid 1 == centroid 2
        let rows: [Float] = [0, 1, 0, 0, 1, 0, 0, 0]
        let (a, s) = NearestCentroid(centroids: cents, dimension: d).assign(rows: rows)
        #expect(a == [1, 1])
        #expect(s == [1, 0])
    }

    @Test func assignmentDoesNotDependOnBatchPosition() {
        let d = 24
        let rows = TestData.mixture(rows: 50, dimension: d, concepts: 5, seed: 3).vectors
        let cents = TestData.mixture(rows: 40, dimension: d, concepts: 5, seed: 4).vectors
        let nc = NearestCentroid(centroids: cents, dimension: d)
        let whole = nc.assign(rows: rows)
        for i in 0..<50 {
            let one = nc.assign(rows: Array(rows[(i * d)..<(i * d + d)]))
            #expect(one.assignments[0] == whole.assignments[i])
            #expect(one.similarities[0].bitPattern == whole.similarities[i].bitPattern)
        }
    }

    @Test("both register tiles give the same assignments and similarities, bit for bit",
          arguments: [(1, 1, 3), (5, 17, 7), (13, 33, 16), (97, 70, 40), (601, 500, 384), (250, 100, 768)])
    func registerTilesAgree(n: Int, k: Int, d: Int) {
        let rows = TestData.mixture(rows: n, dimension: d, concepts: 7, seed: 11).vectors
        let cents = TestData.mixture(rows: k, dimension: d, concepts: 9, seed: 12).vectors
        for threads in [1, 2] {
            var results: [(assignments: [Int32], similarities: [UInt32])] = []
            for shape in NearestCentroid.RegisterTile.allCases {
                var kernel = NearestCentroid(centroids: cents, dimension: d, screen: nil, registerTile: shape)
                kernel.threads = threads
                let (a, s) = kernel.assign(rows: rows)
                results.append((a, s.map(\.bitPattern)))
            }
            #expect(results[0].assignments == results[1].assignments, "n \(n) k \(k) d \(d) threads \(threads)")
            #expect(results[0].similarities == results[1].similarities, "n \(n) k \(k) d \(d) threads \(threads)")
        }
        // And a row's result does not depend on its neighbours in the narrow tile either.
        let narrow = NearestCentroid(centroids: cents, dimension: d, screen: nil, registerTile: .narrow)
        let whole = narrow.assign(rows: rows)
        for i in stride(from: 0, to: n, by: max(1, n / 7)) {
            let one = narrow.assign(rows: Array(rows[(i * d)..<(i * d + d)]))
            #expect(one.assignments[0] == whole.assignments[i])
            #expect(one.similarities[0].bitPattern == whole.similarities[i].bitPattern)
        }
    }

    @Test("ties go to the lowest index with the narrow tile too")
    func narrowTies() {
        let d = 4
        // 40 centroids (three panels, the last partial); 3 and 37 equal the row exactly.
        var cents = [Float](repeating: 0, count: 40 * d)
        for j in 0..<40 { cents[j * d + (j % 3 == 0 ? 1 : 2)] = 0.5 }
        cents[3 * d + 0] = 1; cents[3 * d + 1] = 0
        cents[37 * d + 0] = 1; cents[37 * d + 1] = 0
        let rows: [Float] = [1, 0, 0, 0]
        let (a, s) = NearestCentroid(centroids: cents, dimension: d, registerTile: .narrow).assign(rows: rows)
        #expect(a == [3])
        #expect(s == [1])
    }

    /// Prints GFLOP/s for d = 384, B = 512, per register tile and k (the core is optimised in every build).
    @Test(arguments: NearestCentroid.RegisterTile.allCases, [100, 500])
    func throughput(shape: NearestCentroid.RegisterTile, k: Int) {
        let d = 384, b = 512
        var rng = Xoshiro256StarStar(seed: 9)
        let cents = (0..<(k * d)).map { _ in Float(rng.nextUnit() - 0.5) }
        let rows = (0..<(b * d)).map { _ in Float(rng.nextUnit() - 0.5) }
        let nc = NearestCentroid(centroids: cents, dimension: d, registerTile: shape)
        var a = [Int32](repeating: 0, count: b), s = [Float](repeating: 0, count: b)
        let reps = 100_000 / k
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            rows.withUnsafeBufferPointer { r in
                a.withUnsafeMutableBufferPointer { ap in
                    s.withUnsafeMutableBufferPointer { sp in
                        for _ in 0..<reps { nc.assign(rows: r, count: b, into: ap, similarities: sp) }
                    }
                }
            }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let gflops = 2.0 * Double(k * d * b * reps) / seconds / 1e9
        print("NearestCentroid \(shape.rawValue) tile\(shape == .preferred ? " (this CPU's)" : "") k=\(k) d=\(d) B=\(b): \(String(format: "%.1f", gflops)) GFLOP/s, \(String(format: "%.0f", Double(b * reps) / seconds)) rows/s")
        #expect(a.allSatisfy { $0 >= 0 && $0 < Int32(k) })
    }
}
