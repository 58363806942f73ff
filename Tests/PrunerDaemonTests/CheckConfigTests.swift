// `prunerd serve --check-config` prints every setting: one `key = value` line for
// each row of the option table that is a setting (ServeOptions.table), so no
// option can be added and left out of what an operator checks.
import Foundation
import PrunerConfig
import Testing

@Suite("check-config")
struct CheckConfigTests {
    @Test("every setting of the option table has a line in --check-config")
    func everySettingPrinted() throws {
        let result = try runProcess(TestPaths.prunerd, ["serve", "--check-config", "--decisions", "-"])
        try #require(result.status == 0, "prunerd serve --check-config failed: \(result.stderr)")
        let printed = Set(String(decoding: result.stdout, as: UTF8.self).split(separator: "\n").compactMap { line in
            line.range(of: " = ").map { String(line[..<$0.lowerBound]) }
        })
        let missing = ServeOptions.table.filter { $0.show != nil && !printed.contains($0.name) }.map(\.name)
        #expect(missing.isEmpty, "--check-config leaves out \(missing.joined(separator: ", "))")
        #expect(ConfigFile.knownKeys.isSubset(of: printed), "every config-file key is a setting")
        #expect(ServeOptions.table.filter { $0.show == nil }.map(\.name) == ["config", "check-config"], "only the file and the action are no settings")
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
