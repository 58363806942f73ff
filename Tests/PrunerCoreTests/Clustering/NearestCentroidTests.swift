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

    /// Prints GFLOP/s for k = 500, d = 384, B = 512 (meaningful in release builds).
    @Test func throughput() {
        let k = 500, d = 384, b = 512
        var rng = Xoshiro256StarStar(seed: 9)
        let cents = (0..<(k * d)).map { _ in Float(rng.nextUnit() - 0.5) }
        let rows = (0..<(b * d)).map { _ in Float(rng.nextUnit() - 0.5) }
        let nc = NearestCentroid(centroids: cents, dimension: d)
        var a = [Int32](repeating: 0, count: b), s = [Float](repeating: 0, count: b)
        var reps = 2
        #if !DEBUG
        reps = 200
        #endif
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
        print("NearestCentroid k=\(k) d=\(d) B=\(b): \(String(format: "%.1f", gflops)) GFLOP/s, \(String(format: "%.0f", Double(b * reps) / seconds)) rows/s")
        #expect(a.allSatisfy { $0 >= 0 && $0 < Int32(k) })
    }
}
