import Foundation
import Testing
@testable import PrunerCore
import PrunerEvaluation

/// Fidelity of streaming DBP on the shared real embeddings (40k × 384, ρ = 0.3, k = 100, τ = 0.1),
/// with the default warm-up and look-ahead. The core is compiled with -O in every build, so these
/// run in the default suite (about 15 s each).
@Suite("real-data fidelity", .serialized,
       .enabled(if: TestData.sharedDataDirectory() != nil, "needs the shared real embeddings (../shared/data next to the clone or /work/shared/data)"))
struct RealDataFidelityTests {
    static let data = TestData.realEmbeddings()

    static func options(update: CentroidUpdate = .frozen) -> PruningOptions {
        var options = PruningOptions()
        options.keepRatio = 0.3
        options.clusters = 100
        options.temperature = 0.1
        options.update = update
        return options
    }

    func shuffledRows() throws -> (vectors: [Float], dimension: Int) {
        let (all, d) = try #require(Self.data, "the shared data folder holds the embeddings")
        return (TestData.shuffled(all, dimension: d, seed: 42), d)
    }

    func run(update: CentroidUpdate, minimumOverlap: Double) throws {
        let (vectors, d) = try shuffledRows()
        let report = Fidelity.report(vectors: vectors, dimension: d, options: Self.options(update: update))
        print(report.description)
        #expect(abs(report.streamingKeepRatio - 0.3) <= 0.005)
        #expect(report.overlapFinalCentroids >= minimumOverlap)
        // Target: end-to-end ≥ offline-vs-offline(seed+1). On this fixed shuffle: 0.778 frozen and
        // 0.780 online vs 0.759 (seeds +1…+3: 0.759–0.780); on the CLI's shuffles 0.772–0.801 vs 0.760
        // (docs/fidelity.md, "Kept sets").
        let seeds = report.overlapOfflineSeedRange
        #expect(report.overlapOffline >= report.overlapOfflineSeeds)
        #expect(report.overlapOffline >= report.overlapCentroidsOnly - 0.01,
                "streaming decisions lose almost nothing beyond what the centroids lose")
        #expect(seeds.min <= report.overlapOfflineSeeds && report.overlapOfflineSeeds <= seeds.max)
        #expect(seeds.min <= seeds.mean && seeds.mean <= seeds.max && seeds.min > 0.5)
    }

    @Test func frozen() throws { try run(update: .frozen, minimumOverlap: 0.97) }
    @Test func online() throws { try run(update: .online, minimumOverlap: 0.93) }

    @Test("near-duplicates at ε = 0.05: recall ≥ 0.95 and precision ≥ 0.99 against exact SemDeDup")
    func deduplication() throws {
        let (vectors, d) = try shuffledRows()
        var options = Self.options()
        options.dedupThreshold = 0.05
        let report = Fidelity.report(vectors: vectors, dimension: d, options: options)
        print(report.description)
        #expect(report.dedupRecall >= 0.95)
        #expect(report.dedupPrecision >= 0.99)
        #expect(report.exactDuplicates > 4000, "the data has many near-copies")
        #expect(abs(report.keepRatioOfNonDuplicates - 0.3) <= 0.005)
    }

    @Test("a stream in concept order keeps ρ within ±0.005 (frozen and online)")
    func sortedByLabelKeepRatio() throws {
        let (all, d) = try #require(Self.data), labels = try #require(TestData.realLabels())
        let sorted = TestData.sortedByLabel(all, dimension: d, labels: labels)
        let report = Fidelity.report(vectors: sorted, dimension: d, options: Self.options())
        print(report.description)
        #expect(abs(report.streamingKeepRatio - 0.3) <= 0.005)
        // Frozen centroids in concept order: 0.710 against 0.95 × 0.778 = 0.739 (short: use
        // --update online for such streams, tested below).
        #expect(report.overlapOffline >= 0.68, "regression guard at the measured 0.710")
    }

    @Test("drift: with the default --update auto a stream in concept order reaches 0.95 × the shuffled one")
    func sortedByLabelOnline() throws {
        let (all, d) = try #require(Self.data), labels = try #require(TestData.realLabels())
        let (shuffled, _) = try shuffledRows()
        let sorted = TestData.sortedByLabel(all, dimension: d, labels: labels)
        let options = Self.options(update: .auto)
        let inOrder = Fidelity.report(vectors: sorted, dimension: d, options: options)
        let reference = Fidelity.report(vectors: shuffled, dimension: d, options: options)
        print(inOrder.description)
        // auto reads the warm-up: label order (divergence 0.37) moves centroids, a shuffle (0.07) does not.
        #expect(inOrder.movesCentroids && !reference.movesCentroids)
        #expect((inOrder.orderDivergence ?? 0) > 0.3 && (reference.orderDivergence ?? 1) < 0.15)
        #expect(abs(inOrder.streamingKeepRatio - 0.3) <= 0.005)
        // Decision-time assignment (held records assigned again when decided): the decisions'
        // overlap with the batch recipe on the final centroids 0.906 → 0.935, end to end 0.729 → 0.745.
        #expect(inOrder.overlapFinalCentroids >= 0.925, "regression guard at the measured 0.935")
        // The target. On this shuffle 0.745 against 0.95 × 0.778 = 0.739; on the CLI's, against
        // 0.733; on the CLI's order seed 2 it is short (docs/fidelity.md, "Concept drift").
        #expect(inOrder.overlapOffline >= 0.95 * reference.overlapOffline)
        // Spawning concepts from pooled far records (the late `transformers` records, which the
        // warm-up never saw): 0.745 → 0.750.
        var spawning = options
        spawning.spawnAfter = 50
        spawning.driftQuantile = 0.9
        let spawned = Fidelity.report(vectors: sorted, dimension: d, options: spawning)
        print(spawned.description)
        #expect(abs(spawned.streamingKeepRatio - 0.3) <= 0.005)
        #expect(spawned.overlapOffline >= inOrder.overlapOffline + 0.002, "spawning adds to the concept-order figure")
        #expect(spawned.overlapOffline >= 0.95 * reference.overlapOffline)
    }

    /// The second real set (80,000 PyPI summaries), sorted by the name's first word: a
    /// crawl emitting one site at a time whose warm-up divergence (0.22) sat under the
    /// former constant bar of 0.25, so auto stayed frozen and reached 0.94 × shuffled.
    /// Against 1.5 × a shuffle's expectation (0.10) it moves centroids.
    @Test("drift on the PyPI set: auto goes online in name order and reaches 0.95 × shuffled",
          .enabled(if: TestData.sharedDataDirectory().map { FileManager.default.fileExists(atPath: $0 + "/pypi-labels.txt") } ?? false,
                   "needs the PyPI set in the shared data folder"))
    func pypiSortedByName() throws {
        let (all, d) = try #require(TestData.realEmbeddings("pypi")), labels = try #require(TestData.realLabels("pypi-labels"))
        let options = Self.options(update: .auto)
        let inOrder = Fidelity.report(vectors: TestData.sortedByLabel(all, dimension: d, labels: labels), dimension: d, options: options)
        let reference = Fidelity.report(vectors: TestData.shuffled(all, dimension: d, seed: 42), dimension: d, options: options)
        print(inOrder.description)
        print(reference.description)
        #expect(inOrder.movesCentroids && !reference.movesCentroids)
        #expect(abs(inOrder.streamingKeepRatio - 0.3) <= 0.005)
        #expect(inOrder.overlapOffline >= 0.95 * reference.overlapOffline)
    }
}
