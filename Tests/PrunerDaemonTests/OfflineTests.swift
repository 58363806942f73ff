// `prunerd offline` end to end: the batch recipe over a file, with the score
// pre-filter (also checked through `serve`) and exact near-duplicate removal
// applied before DBP.
import Foundation
import Testing

@Suite("offline")
struct OfflineTests {
    @Test("--min-score drops low-scored records as low_score; unscored records are unaffected")
    func minScore() throws {
        var input = Data()
        for i in 0..<600 {
            let score: Float? = i % 3 == 0 ? nil : (i % 3 == 1 ? 0.1 : 0.9)
            input += Handmade.prn1("s\(i)", Handmade.vector(i, dimension: 16), score: score)
        }
        let result = try runProcess(TestPaths.prunerd, ["offline", "--decisions", "-", "--clusters", "4",
                                                         "--min-score", "0.5"], input: input)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = parseDecisions(result.stdout)
        #expect(lines.count == 600)
        let low = lines.filter { $0.reason == "low_score" }
        #expect(low.count == 200)
        #expect(low.allSatisfy { Int($0.id.dropFirst())! % 3 == 1 && $0.decision == "drop" && $0.cluster == nil })
        // ρ of the 400 records that took part.
        #expect(lines.filter { $0.decision == "keep" }.count == 120)
        // The streaming engine applies the same filter.
        let streamed = try runProcess(TestPaths.prunerd, ["serve", "--decisions", "-", "--clusters", "4", "--warmup", "50",
                                                           "--lookahead", "0", "--min-score", "0.5"], input: input)
        #expect(streamed.status == 0, "\(streamed.stderr)")
        let streamedLow = parseDecisions(streamed.stdout).filter { $0.reason == "low_score" }
        #expect(streamedLow.map(\.id) == low.map(\.id))
    }

    @Test("--dedup-threshold drops exact copies as duplicate, keeping one of each group")
    func duplicates() throws {
        var input = Data()
        for i in 0..<300 { input += Handmade.prn1("o\(i)", Handmade.randomVector(i)) }
        for i in 0..<50 { input += Handmade.prn1("copy\(i)", Handmade.randomVector(i)) }
        let result = try runProcess(TestPaths.prunerd, ["offline", "--decisions", "-", "--clusters", "4",
                                                         "--dedup-threshold", "0.01"], input: input)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = parseDecisions(result.stdout)
        let duplicates = lines.filter { $0.reason == "duplicate" }
        #expect(duplicates.count == 50)
        // Of each original/copy pair exactly one survives the duplicate check.
        for i in 0..<50 {
            let pair = lines.filter { $0.id == "o\(i)" || $0.id == "copy\(i)" }
            #expect(pair.filter { $0.reason == "duplicate" }.count == 1, "pair \(i)")
        }
    }
}
