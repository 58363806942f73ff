import Testing
@testable import PrunerCore

/// `update` auto's bar: 1.5 × the divergence a shuffle shows by sampling alone.
@Suite("order divergence bar")
struct OrderDivergenceTests {
    @Test("the shuffle expectation matches simulated shuffles of skewed concepts")
    func expectationMatchesSimulation() {
        var rng = Xoshiro256StarStar(seed: 3)
        let k = 50, n = 20_000, windows = 10
        // Skewed shares (Zipf-like), as real concepts are.
        var weights = (1...k).map { 1 / Double($0) }
        let sum = weights.reduce(0, +)
        weights = weights.map { $0 / sum }
        var clusters = [Int32]()
        for j in 0..<k { clusters += Array(repeating: Int32(j), count: Int((weights[j] * Double(n)).rounded())) }
        var simulated = 0.0
        let trials = 20
        for _ in 0..<trials {
            for i in stride(from: clusters.count - 1, to: 0, by: -1) {
                clusters.swapAt(i, Int(rng.next() % UInt64(i + 1)))
            }
            simulated += Self.divergence(clusters, k: k, windows: windows)
        }
        simulated /= Double(trials)
        var shares = [Double](repeating: 0, count: k)
        for c in clusters { shares[Int(c)] += 1 / Double(clusters.count) }
        let expected = StreamingPruner.shuffleExpectation(shares: shares, window: clusters.count / windows, total: clusters.count)
        #expect(abs(simulated - expected) / expected < 0.05, "simulated \(simulated), expected \(expected)")
        // A stream in concept order is far above the bar.
        let ordered = clusters.sorted()
        #expect(Self.divergence(ordered, k: k, windows: windows) > 3 * StreamingPruner.orderedMargin * expected)
    }

    static func divergence(_ clusters: [Int32], k: Int, windows: Int) -> Double {
        let n = clusters.count
        var whole = [Double](repeating: 0, count: k)
        for c in clusters { whole[Int(c)] += 1 / Double(n) }
        var total = 0.0
        for w in 0..<windows {
            let range = (w * n / windows)..<((w + 1) * n / windows)
            var part = [Double](repeating: 0, count: k)
            for i in range { part[Int(clusters[i])] += 1 / Double(range.count) }
            total += zip(part, whole).map { abs($0 - $1) }.reduce(0, +) / 2
        }
        return total / Double(windows)
    }
}
