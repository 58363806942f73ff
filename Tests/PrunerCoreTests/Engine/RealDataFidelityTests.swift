import Foundation
import Testing
@testable import PrunerCore

/// Fidelity of streaming DBP on the shared real embeddings (ρ = 0.3, k = 100, τ = 0.1, shuffled).
@Suite struct RealDataFidelityTests {
    static let data = TestData.realEmbeddings()

    func run(update: CentroidUpdate, minimumOverlap: Double) throws {
        guard let (all, d) = Self.data else {
            print("skipping: shared data folder not found (expected ../shared/data next to the clone or /work/shared/data)")
            return
        }
        var rows = all.count / d
        #if DEBUG
        rows = min(rows, 8000)     // debug builds are ~100× slower; the release figures cover all 40k
        #endif
        let vectors = TestData.shuffled(Array(all[0..<(rows * d)]), dimension: d, seed: 42)
        var options = PruningOptions()
        options.keepRatio = 0.3
        options.clusters = 100
        options.temperature = 0.1
        options.update = update
        #if DEBUG
        options.kmeansIterations = 10
        options.warmup = 2000
        options.lookahead = 1000
        #endif
        let clock = ContinuousClock()
        var report: FidelityReport!
        let elapsed = clock.measure { report = Fidelity.report(vectors: vectors, dimension: d, options: options) }
        print(report.description)
        print("  elapsed \(elapsed)")
        #expect(abs(report.streamingKeepRatio - 0.3) <= 0.005)
        #expect(report.overlapFinalCentroids >= minimumOverlap)
        #expect(report.overlapOffline >= report.overlapOfflineSeeds)
    }

    @Test func frozen() throws { try run(update: .frozen, minimumOverlap: 0.97) }
    @Test func online() throws { try run(update: .online, minimumOverlap: 0.93) }
}
