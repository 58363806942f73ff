// The behaviour guard: the decision logs of a fixed set of runs, byte for byte
// (timestamps and temporary paths aside), against digests recorded in
// `digests.txt` beside this file. Refactors must reproduce them exactly; a
// commit that changes them on purpose regenerates the file
// (`PRUNERD_GOLDEN_UPDATE=1 swift test --filter GoldenDecisionLog`) and says why.
import Foundation
import Testing

@Suite("Golden decision logs", .serialized)
struct GoldenDecisionLogTests {
    /// One guarded run: the command lines it takes (run in order, logs concatenated).
    struct Run: Sendable, CustomStringConvertible {
        var name: String
        var steps: [[String]]
        var description: String { name }
    }

    /// Small engine settings so the whole set runs in seconds on the shipped sample.
    static let engine = ["--clusters", "16", "--warmup", "1000", "--lookahead", "500", "--seed", "0", "--threads", "2"]

    static let runs: [Run] = [
        Run(name: "shuffled", steps: [["serve", "$sample"] + engine]),
        Run(name: "concept-order", steps: [["serve", "$concept"] + engine]),
        Run(name: "dedup", steps: [["serve", "$sample", "--dedup-threshold", "0.05"] + engine]),
        Run(name: "online", steps: [["serve", "$sample", "--update", "online"] + engine]),
        Run(name: "spawning", steps: [["serve", "$concept", "--update", "online", "--spawn-after", "50",
                                       "--drift-quantile", "0.9"] + engine]),
        Run(name: "restart", steps: [
            ["serve", "$part1", "--state-dir", "$state", "--checkpoint-every", "0"] + engine,
            ["serve", "$part2", "--state-dir", "$state", "--checkpoint-every", "0"] + engine,
        ]),
        Run(name: "offline", steps: [["offline", "$sample", "--clusters", "16", "--seed", "0"]]),
    ]

    static let digestsFile = TestPaths.packageRoot
        .appendingPathComponent("Tests/PrunerDaemonTests/Golden/digests.txt")

    /// The inputs derived from the sample once per test process.
    static let inputs: URL = {
        let directory = TestPaths.temporaryDirectory()
        let script = TestPaths.packageRoot.appendingPathComponent("Tests/PrunerDaemonTests/Golden/make_inputs.py").path
        let result = try! runProcess("/usr/bin/env", ["python3", script, TestPaths.sample, directory.path])
        precondition(result.status == 0, "make_inputs.py failed: \(result.stderr)")
        return directory
    }()

    @Test("decision logs reproduce byte for byte", arguments: runs)
    func reproduces(_ run: Run) throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        var log = ""
        for (index, step) in run.steps.enumerated() {
            let decisions = work.appendingPathComponent("decisions-\(index).jsonl").path
            let arguments = step.map { argument in
                switch argument {
                case "$sample": TestPaths.sample
                case "$concept": Self.inputs.appendingPathComponent("concept.prn1.lz4").path
                case "$part1": Self.inputs.appendingPathComponent("part1.prn1.lz4").path
                case "$part2": Self.inputs.appendingPathComponent("part2.prn1.lz4").path
                case "$state": work.appendingPathComponent("state").path
                default: argument
                }
            } + ["--decisions", decisions]
            let result = try runProcess(TestPaths.prunerd, arguments)
            try #require(result.status == 0, "prunerd \(arguments.joined(separator: " ")) failed: \(result.stderr)")
            log += Self.normalised(try String(contentsOfFile: decisions, encoding: .utf8))
        }
        let lines = log.split(separator: "\n").count
        #expect(lines == 8000, "every record of the sample decided once")
        let digest = try Self.sha256(log)
        if ProcessInfo.processInfo.environment["PRUNERD_GOLDEN_UPDATE"] == "1" {
            try Self.record(run.name, lines: lines, digest: digest)
            return
        }
        let expected = try #require(try Self.recorded()[run.name], "no golden digest for \(run.name): run with PRUNERD_GOLDEN_UPDATE=1")
        if expected != "\(lines) \(digest)" {
            let kept = FileManager.default.temporaryDirectory.appendingPathComponent("prunerd-golden-\(run.name).jsonl")
            try log.write(to: kept, atomically: true, encoding: .utf8)
            Issue.record("\(run.name): decision log changed (\(lines) \(digest), recorded \(expected)); normalised log kept at \(kept.path)")
        }
    }

    /// Drops the `ts` field and reduces `file:` sources to the file's name.
    static func normalised(_ log: String) -> String {
        var out = ""
        for line in log.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            var text = String(line)
            if let start = text.range(of: "\"ts\":\""), let end = text[start.upperBound...].range(of: "\",") {
                text.removeSubrange(start.lowerBound..<end.upperBound)
            }
            if let start = text.range(of: "\"src\":\"file:"), let end = text[start.upperBound...].range(of: "\"") {
                let path = text[start.upperBound..<end.lowerBound]
                let name = path.split(separator: "/").last.map(String.init) ?? String(path)
                text.replaceSubrange(start.upperBound..<end.lowerBound, with: name)
            }
            out += text + "\n"
        }
        return out
    }

    static func sha256(_ text: String) throws -> String {
        let result = try runProcess("/usr/bin/env", ["sha256sum"], input: Data(text.utf8))
        return String(String(decoding: result.stdout, as: UTF8.self).prefix(64))
    }

    static func recorded() throws -> [String: String] {
        guard let text = try? String(contentsOf: digestsFile, encoding: .utf8) else { return [:] }
        var table: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: " ")
            if fields.count == 3 { table[String(fields[0])] = "\(fields[1]) \(fields[2])" }
        }
        return table
    }

    static let recordLock = NSLock()

    static func record(_ name: String, lines: Int, digest: String) throws {
        recordLock.lock(); defer { recordLock.unlock() }
        var table = try recorded()
        table[name] = "\(lines) \(digest)"
        let header = "# run lines sha256 of the normalised decision log (GoldenDecisionLogTests.swift)\n"
        let body = table.keys.sorted().map { "\($0) \(table[$0]!)" }.joined(separator: "\n")
        try (header + body + "\n").write(to: digestsFile, atomically: true, encoding: .utf8)
    }
}
