import Testing
@testable import PrunerCore

@Suite struct OfflinePrunerTests {
    let data = TestData.mixture(rows: 3000, dimension: 16, concepts: 8, seed: 21)

    func options(_ mode: KeepMode) -> PruningOptions {
        var o = PruningOptions()
        o.clusters = 8; o.keepRatio = 0.3; o.keep = mode
        return o
    }

    @Test(arguments: [KeepMode.hard, .easy, .random])
    func keptCountIsRoundedRatio(mode: KeepMode) {
        let r = OfflinePruner.run(vectors: data.vectors, dimension: 16, options: options(mode))
        #expect(r.keptCount == 900)
        #expect(r.quotas.reduce(0, +) == 900)
        for j in 0..<8 {
            #expect(r.keep.indices.filter { r.keep[$0] && r.assignments[$0] == Int32(j) }.count == r.quotas[j])
        }
    }

    @Test func hardKeepsTheFarthestAndEasyTheNearest() {
        for mode in [KeepMode.hard, .easy] {
            let r = OfflinePruner.run(vectors: data.vectors, dimension: 16, options: options(mode))
            for j in 0..<8 {
                let rows = r.keep.indices.filter { r.assignments[$0] == Int32(j) }
                let kept = rows.filter { r.keep[$0] }.map { r.distances[$0] }
                let dropped = rows.filter { !r.keep[$0] }.map { r.distances[$0] }
                guard let kMin = kept.min(), let kMax = kept.max() else { continue }
                if mode == .hard {
                    #expect(dropped.allSatisfy { $0 <= kMin })
                    #expect(r.thresholds[j] == kMin)
                } else {
                    #expect(dropped.allSatisfy { $0 >= kMax })
                    #expect(r.thresholds[j] == kMax)
                }
            }
            let d = r.decision(forRow: 0)
            #expect(d.reason == (r.keep[0] ? .withinQuota : .overQuota))
        }
    }

    @Test func givenCentroidsAreUsed() {
        let first = OfflinePruner.run(vectors: data.vectors, dimension: 16, options: options(.hard))
        let again = OfflinePruner.run(vectors: data.vectors, dimension: 16, options: options(.hard), centroids: first.centroids)
        #expect(again.keep == first.keep)
    }
}
