// A side-by-side measurement of the float32 kernel and every screen this CPU
// runs, on real embeddings, for docs/performance.md. Off unless asked for:
//   PRUNERD_KERNEL_BENCH=1 swift test --skip-build --filter KernelBenchmark
// (or PRUNERD_KERNEL_BENCH="100,384;500,768" for chosen k, d).
// Kernels alternate round by round and each keeps its fastest round, measured
// in the thread's CPU time, so that other processes on the machine disturb the
// comparison as little as possible. Results are also checked identical.
import Foundation
import Testing
@testable import PrunerCore

@Suite("KernelBenchmark", .enabled(if: ProcessInfo.processInfo.environment["PRUNERD_KERNEL_BENCH"] != nil,
                                   "set PRUNERD_KERNEL_BENCH=1 to measure"))
struct KernelBenchmark {
    /// (k, d) pairs: `PRUNERD_KERNEL_BENCH=k,d;k,d…` picks them (e.g. `100,384`), `1` means these four.
    static var cases: [(Int, Int)] {
        let setting = ProcessInfo.processInfo.environment["PRUNERD_KERNEL_BENCH"] ?? "1"
        let picked = setting.split(separator: ";").compactMap { pair -> (Int, Int)? in
            let parts = pair.split(separator: ",").compactMap { Int($0) }
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }
        return picked.isEmpty ? [(100, 384), (500, 384), (1000, 384), (500, 768)] : picked
    }

    private static func threadSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Real rows of dimension `d`: the 384-d embeddings, or for 768 two consecutive ones side by side.
    private static func rows(dimension d: Int) -> [Float]? {
        guard let (vectors, base) = TestData.realEmbeddings() else { return nil }
        if d == base { return vectors }
        guard d == 2 * base else { return nil }
        let n = vectors.count / base / 2
        var wide = [Float](repeating: 0, count: n * d)
        for i in 0..<n { for t in 0..<d { wide[i * d + t] = vectors[2 * i * base + t] } }
        VectorMath.normaliseRows(&wide, d)
        return wide
    }

    @Test("float32 against the screens, real embeddings",
          .enabled(if: TestData.realEmbeddings() != nil, "needs the shared real embeddings"),
          arguments: KernelBenchmark.cases)
    func compare(k: Int, d: Int) throws {
        let vectors = try #require(Self.rows(dimension: d))
        let n = min(8_000, vectors.count / d / 2)
        let rows = Array(vectors[0..<(n * d)])
        let sample = Array(vectors[(vectors.count - 10_000 * d)...])
        let centroids = SphericalKMeans.fit(vectors: sample, dimension: d, k: k, iterations: 5, seed: 3)
        var kernels: [(String, NearestCentroid)] = [("float32 \(NearestCentroid.RegisterTile.preferred.rawValue)",
                                                     NearestCentroid(centroids: centroids, dimension: d, screen: nil))]
        for kind in NearestCentroid.ScreenKind.supported {
            kernels.append((kind.rawValue, NearestCentroid(centroids: centroids, dimension: d, screen: kind)))
        }
        var best = [Double](repeating: .infinity, count: kernels.count)
        var results = [[Int32]](repeating: [], count: kernels.count)
        for _ in 0..<5 {
            for (i, (_, kernel)) in kernels.enumerated() {
                let start = Self.threadSeconds()
                let (a, _) = kernel.assign(rows: rows)
                best[i] = min(best[i], Self.threadSeconds() - start)
                results[i] = a
            }
        }
        for (i, (name, kernel)) in kernels.enumerated() {
            let rate = Double(n) / best[i]
            let panels = kernel.screenedPanelsPerRow(rows: rows).map { String(format: ", %.2f of %d panels per row exact", $0, (k + 15) / 16) } ?? ""
            print(String(format: "kernel benchmark k=%d d=%d %@: %.0f rows/s, %.1f GFLOP/s-equivalent, %.2fx float32%@",
                         k, d, name, rate, rate * Double(2 * k * d) / 1e9, best[0] / best[i], panels))
            #expect(results[i] == results[0])
        }
    }
}
