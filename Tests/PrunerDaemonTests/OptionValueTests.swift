// Option values that once trapped prunerd (an allocation or a conversion past its
// range, a precondition) are refused by name with a usage error, from the
// command line and from a configuration file alike; values that are odd but
// meaningful run.
import Foundation
import Testing

@Suite("option values")
struct OptionValueTests {
    static let small = ["--clusters", "2", "--warmup", "4", "--recompute-every", "4", "--lookahead", "0"]

    func input(in directory: URL) throws -> URL {
        var data = Data()
        for i in 0..<12 { data += Handmade.prn1("g\(i)", Handmade.randomVector(i, dimension: 8)) }
        let url = directory.appendingPathComponent("good.prn1")
        try data.write(to: url)
        return url
    }

    @Test("refused with a usage error naming the option (each trapped before)", arguments: [
        (["--max-record-size", "0"], "--max-record-size must be at least 16 bytes, not 0"),
        (["--checkpoint-every", "inf"], "--checkpoint-every must be 0 (only at start and stop) or a number of seconds up to 1e9, not inf"),
        (["--checkpoint-every", "1e19"], "--checkpoint-every must be 0"),
        (["--clusters", "9223372036854775807"], "--clusters must be at most 100000"),
        (["--clusters", "10000000000"], "--clusters must be at most 100000"),
        (["--dedup-memory", "4611686018427387904"], "--dedup-memory must be at most 1048576"),
        (["--spawn-after", "4611686018427387904"], "--spawn-after must be at most 1048576"),
    ])
    func refused(arguments: [String], message: String) throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let good = try input(in: work)
        let result = try runProcess(TestPaths.prunerd, ["serve", good.path, "--decisions", "-", "--state-dir", work.path] + arguments)
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        // The same value from a configuration file.
        let config = work.appendingPathComponent("p.toml")
        try "\(arguments[0].dropFirst(2)) = \(arguments[1])\n".write(to: config, atomically: true, encoding: .utf8)
        let fromFile = try runProcess(TestPaths.prunerd, ["serve", good.path, "--decisions", "-", "--state-dir", work.path,
                                                          "--config", config.path])
        #expect(fromFile.status == 64, "\(fromFile.stderr)")
        #expect(fromFile.stderr.contains(message), "\(fromFile.stderr)")
    }

    @Test("decode --max-record-size 0 and fidelity --limit 0 are usage errors")
    func otherCommands() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let good = try input(in: work)
        let decode = try runProcess(TestPaths.prunerd, ["decode", good.path, "--max-record-size", "0"])
        #expect(decode.status == 64 && decode.stderr.contains("--max-record-size must be at least 16 bytes"), "\(decode.stderr)")
        let fidelity = try runProcess(TestPaths.prunerd, ["fidelity", good.path, "--limit", "0"] + Self.small)
        #expect(fidelity.status == 64 && fidelity.stderr.contains("--limit must be at least 1, not 0"), "\(fidelity.stderr)")
    }

    @Test("a unix socket path longer than sun_path is refused, naming the limit; no socket file appears (it bound a cut name); a missing directory is named")
    func longSocketPath() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let path = work.appendingPathComponent(String(repeating: "s", count: 200)).path
        let result = try runProcess(TestPaths.prunerd, ["serve", "--listen", "unix:\(path)", "--decisions", work.appendingPathComponent("d.jsonl").path,
                                                        "--state-dir", work.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("ENAMETOOLONG") && result.stderr.contains("a unix socket's holds at most 107"), "\(result.stderr)")
        let entries = try FileManager.default.contentsOfDirectory(atPath: work.path)
        #expect(!entries.contains { $0.hasPrefix("sss") }, "\(entries)")
        // A missing directory is named as such (libuv reports it as EACCES, "permission denied").
        let missing = work.appendingPathComponent("none/in.sock").path
        let refused = try runProcess(TestPaths.prunerd, ["serve", "--listen", "unix:\(missing)", "--decisions", work.appendingPathComponent("d.jsonl").path,
                                                         "--state-dir", work.path])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("bind unix:\(missing) (directory \(work.path)/none does not exist): ENOENT"), "\(refused.stderr)")
    }

    @Test("--min-per-cluster 1e19 runs: every concept's floor is its size less one (the conversion trapped)")
    func hugeMinimumPerConcept() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let good = try input(in: work)
        let result = try runProcess(TestPaths.prunerd, ["serve", good.path, "--decisions", "-", "--min-per-cluster", "1e19"] + Self.small)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(parseDecisions(result.stdout).count == 12)
    }
}
