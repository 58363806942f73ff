// What the warm-up's k-means did and which centroid update is in force are logged
// once, when they happen: an operator (and bench/run) reads there whether `auto`
// went online and whether k-means converged or hit its cap.
import Foundation
import Testing

@Suite("engine notices in the daemon log")
struct EngineNoticeTests {
    static func stderr(_ command: String, _ arguments: [String]) throws -> String {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try runProcess(TestPaths.prunerd, [command, TestPaths.sample, "--decisions",
                                                        directory.appendingPathComponent("d.jsonl").path] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        return result.stderr
    }

    static func lines(_ text: String, containing marker: String) -> [Substring] {
        text.split(separator: "\n").filter { $0.contains(marker) }
    }

    @Test("serve: one warm-up line naming k-means' rows and auto's choice with its divergence and bar")
    func warmupLine() throws {
        let log = try Self.stderr("serve", ["--warmup", "2000", "--lookahead", "2000"])
        let lines = Self.lines(log, containing: "warm-up done")
        #expect(lines.count == 1, "\(log)")
        let line = try #require(lines.first)
        #expect(line.contains("k-means over 2000 records: "))
        #expect(line.contains("centroid update: frozen (auto: the warm-up's concept-order divergence "), "a shuffled sample stays frozen: \(line)")
        #expect(line.contains("is within the bar"))
    }

    @Test("serve: an explicit --update is named as such; the iteration cap is reported as a cap")
    func explicitUpdateAndCap() throws {
        let online = try Self.stderr("serve", ["--warmup", "2000", "--lookahead", "2000", "--update", "online"])
        #expect(Self.lines(online, containing: "centroid update: online (--update online)").count == 1, "\(online)")
        let capped = try Self.stderr("serve", ["--warmup", "2000", "--lookahead", "2000", "--kmeans-iterations", "2"])
        #expect(Self.lines(capped, containing: "2 Lloyd updates, stopped at the --kmeans-iterations cap").count == 1, "\(capped)")
    }

    @Test("offline: k-means over every record, converged")
    func offlineLine() throws {
        let log = try Self.stderr("offline", [])
        let lines = Self.lines(log, containing: "k-means over 8000 records: ")
        #expect(lines.count == 1, "\(log)")
        #expect(lines.first?.contains("converged (a last pass moved no record)") == true, "\(log)")
    }
}
