// `prunerd serve --check-config` prints every setting: one `key = value` line for
// each key the config file takes (ConfigFile.knownKeys), so no option can be
// added to the file and left out of what an operator checks.
import Foundation
import PrunerConfig
import Testing

@Suite("check-config")
struct CheckConfigTests {
    @Test("every config-file key has a line in --check-config")
    func everyKeyPrinted() throws {
        let result = try runProcess(TestPaths.prunerd, ["serve", "--check-config", "--decisions", "-"])
        try #require(result.status == 0, "prunerd serve --check-config failed: \(result.stderr)")
        let printed = Set(String(decoding: result.stdout, as: UTF8.self).split(separator: "\n").compactMap { line in
            line.range(of: " = ").map { String(line[..<$0.lowerBound]) }
        })
        let missing = ConfigFile.knownKeys.subtracting(printed).sorted()
        #expect(missing.isEmpty, "--check-config leaves out \(missing.joined(separator: ", "))")
    }

    @Test("--check-config shows the layered values: the file's, the command line over it, the defaults")
    func layeredValues() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let config = work.appendingPathComponent("prunerd.toml")
        try "half-life = 5000\nthreads = 3\nreply = true\nlisten = [\"unix:\(work.path)/s.sock\"]\n".write(to: config, atomically: true, encoding: .utf8)
        let result = try runProcess(TestPaths.prunerd, ["serve", "--config", config.path, "--check-config", "--threads", "2",
                                                        "--state-dir", work.path, "--decisions", "-"])
        try #require(result.status == 0, "prunerd serve --check-config failed: \(result.stderr)")
        let lines = Set(String(decoding: result.stdout, as: UTF8.self).split(separator: "\n").map(String.init))
        for expected in ["half-life = 5000", "threads = 2", "reply = true", "checkpoint-every = 60.0",
                         "control = \(work.path)/control.sock", "spawn-after = 0", "min-score = off"] {
            #expect(lines.contains(expected), "no line \(expected)")
        }
    }
}
