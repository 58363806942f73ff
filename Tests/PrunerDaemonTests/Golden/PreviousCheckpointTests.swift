// A daemon checkpoint written by the version-4 build still restores: the golden
// restart run's first step, taken with that build (commit 201d096), left
// Fixtures/restart-v4/checkpoint.prnckpt; the second step, restarted from it on
// part 2, must write the decision log that build wrote (part2.digest), byte for
// byte as the golden test normalises it. The fixture is never regenerated.
import Foundation
import Testing

@Suite("Previous checkpoint format")
struct PreviousCheckpointTests {
    static let fixture = TestPaths.packageRoot.appendingPathComponent("Tests/PrunerDaemonTests/Fixtures/restart-v4")

    @Test("a version-4 daemon checkpoint restores and decides part 2 as that build did")
    func restartFromVersion4() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let state = work.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.fixture.appendingPathComponent("checkpoint.prnckpt"),
                                         to: state.appendingPathComponent("checkpoint.prnckpt"))
        let decisions = work.appendingPathComponent("decisions.jsonl").path
        let part2 = GoldenDecisionLogTests.inputs.appendingPathComponent("part2.prn1.lz4").path
        let result = try runProcess(TestPaths.prunerd, ["serve", part2, "--state-dir", state.path, "--checkpoint-every", "0"]
                                    + GoldenDecisionLogTests.engine + ["--decisions", decisions])
        try #require(result.status == 0, "prunerd failed: \(result.stderr)")
        #expect(result.stderr.contains("restored checkpoint"))
        let log = GoldenDecisionLogTests.normalised(try String(contentsOfFile: decisions, encoding: .utf8))
        let recorded = try String(contentsOf: Self.fixture.appendingPathComponent("part2.digest"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect("\(log.split(separator: "\n").count) \(try GoldenDecisionLogTests.sha256(log))" == recorded)
    }
}
