// How a run went, said at its end: an empty input and an all-rejected input fail
// the run (exit 1); k above the records and a run that ended inside its warm-up
// are notes on a run that still succeeded.
import Foundation
import Testing

@Suite("run outcome notes")
struct RunOutcomeTests {
    static func run(_ command: String, _ input: Data, _ options: [String]) throws -> ProcessResult {
        try runProcess(TestPaths.prunerd, [command, "-", "--decisions", "-", "--log-level", "warning"] + options, input: input)
    }

    @Test("empty input: serve and offline exit 1 saying so")
    func empty() throws {
        for command in ["serve", "offline"] {
            let result = try Self.run(command, Data(), [])
            #expect(result.status == 1, "\(command)")
            #expect(result.stderr.contains("note: no records: the input was empty"), "\(command): \(result.stderr)")
        }
    }

    @Test("every record rejected: exit 1 with the reasons")
    func allRejected() throws {
        let input = (0..<5).reduce(Data()) { $0 + Handmade.prn1("r\($1)", [Float](repeating: 0, count: 4)) }
        let result = try Self.run("serve", input, [])
        #expect(result.status == 1)
        #expect(result.stderr.contains("every record was rejected (zero_vector=5): nothing was kept"), "\(result.stderr)")
        #expect(parseDecisions(result.stdout).count == 5, "each still has its decision line")
    }

    @Test("k above the records and a run inside the warm-up: notes, exit 0")
    func smallRuns() throws {
        let input = (0..<40).reduce(Data()) { $0 + Handmade.prn1("v\($1)", Handmade.randomVector($1)) }
        let result = try Self.run("serve", input, ["--clusters", "50", "--warmup", "100", "--lookahead", "50"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("note: --clusters 50 is more than the 40 valid records"), "\(result.stderr)")
        #expect(result.stderr.contains("note: the run ended inside the warm-up (40 of --warmup 100 records)"), "\(result.stderr)")
        let enough = try Self.run("serve", input, ["--clusters", "2", "--warmup", "10", "--lookahead", "5"])
        #expect(enough.status == 0 && !enough.stderr.contains("note:"), "\(enough.stderr)")
        // k-means waits for the look-ahead when that is longer: the note names it.
        let held = try Self.run("serve", input, ["--clusters", "2", "--warmup", "10", "--lookahead", "100"])
        #expect(held.stderr.contains("note: the run ended inside the warm-up (40 of --lookahead 100, longer than --warmup records)"),
                "\(held.stderr)")
    }
}
