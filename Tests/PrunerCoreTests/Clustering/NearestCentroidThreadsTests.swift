// Splitting assignment across threads must not change a single bit of it.
import Testing
@testable import PrunerCore

@Suite("NearestCentroid threads")
struct NearestCentroidThreadsTests {
    @Test("1, 2 and 3 threads give identical assignments and similarities", arguments: [2, 3])
    func threadsDoNotChangeResults(threads: Int) {
        var random = SplitMix64(seed: 42)
        let d = 48, k = 37, n = 1003
        func unit() -> [Float] {
            let v = (0..<d).map { _ in Float(random.next() % 2001) / 1000 - 1 }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / norm }
        }
        let centroids = (0..<k).flatMap { _ in unit() }
        let rows = (0..<n).flatMap { _ in unit() }
        let serial = NearestCentroid(centroids: centroids, dimension: d)
        var parallel = serial
        parallel.threads = threads
        let a = serial.assign(rows: rows)
        let b = parallel.assign(rows: rows)
        #expect(a.assignments == b.assignments)
        #expect(a.similarities == b.similarities)
        #expect(Set(a.assignments).count > k / 2, "the data spreads over the concepts")
    }
}
