// --kept-ids and `prunerd kept`: the kept set as text and as DataComp's sorted
// u8,u8 subset array, checked with numpy against the decision log (numpy builds
// the expected array the way DataComp's README does), for a run, a daemon's
// SIGHUP and stop, and an existing log.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("kept ids", .serialized)
struct KeptIdsTests {
    static let options = ["--clusters", "4", "--warmup", "300", "--recompute-every", "100", "--lookahead", "0",
                          "--log-level", "warning"]

    static func python(_ script: String, in directory: URL) throws -> ProcessResult {
        try runProcess("/bin/sh", ["-c", "cd '\(directory.path)' && python3 -c \"$0\"", script])
    }

    static func fixtures() throws -> URL {
        let directory = TestPaths.temporaryDirectory()
        let script = """
            import numpy as np, uuid
            rng = np.random.default_rng(5)
            np.save('emb.npy', rng.standard_normal((1200, 12)).astype(np.float32))
            open('uids.txt', 'w').write(''.join(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | i).hex + '\\n' for i in range(1200)))
            """
        try #require(try python(script, in: directory).status == 0)
        return directory
    }

    /// numpy's check: the file equals DataComp's recipe applied to the keep lines of `log`.
    static let verifyNPY = """
        import numpy as np, json, sys
        kept = [json.loads(l)['id'] for l in open(sys.argv[1]) if json.loads(l)['decision'] == 'keep']
        want = np.array([(int(u[:16], 16), int(u[16:32], 16)) for u in kept], np.dtype('u8,u8'))
        want.sort()
        got = np.load(sys.argv[2])
        assert got.dtype == np.dtype([('f0', '<u8'), ('f1', '<u8')]), got.dtype
        assert got.shape == (len(kept),), (got.shape, len(kept))
        assert np.array_equal(got, want)
        assert np.array_equal(got, np.sort(got))
        """

    @Test("serve and offline: text in decision order, .npy as DataComp's sorted u8,u8; prunerd kept gives the same")
    func runOutputs() throws {
        let directory = try Self.fixtures()
        defer { try? FileManager.default.removeItem(at: directory) }
        for command in ["serve", "offline"] {
            let result = try runProcess("/bin/sh", ["-c", "cd '\(directory.path)' && exec \"$0\" \"$@\"", TestPaths.prunerd, command,
                "emb.npy", "--ids", "uids.txt", "--decisions", "log.jsonl", "--kept-ids", "kept.txt"] + Self.options)
            #expect(result.status == 0, "\(result.stderr)")
            let log = try String(contentsOf: directory.appendingPathComponent("log.jsonl"), encoding: .utf8)
            let keptInLog = parseDecisions(Data(log.utf8)).filter { $0.decision == "keep" }.map(\.id)
            let text = try String(contentsOf: directory.appendingPathComponent("kept.txt"), encoding: .utf8)
            #expect(text == keptInLog.map { $0 + "\n" }.joined(), "\(command)")
            #expect(result.stderr.contains("kept ids: kept.txt (\(keptInLog.count) records)"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("kept.txt.spool").path))

            let npy = try runProcess("/bin/sh", ["-c", "cd '\(directory.path)' && exec \"$0\" \"$@\"", TestPaths.prunerd, command,
                "emb.npy", "--ids", "uids.txt", "--decisions", "log2.jsonl", "--kept-ids", "kept.npy"] + Self.options)
            #expect(npy.status == 0, "\(npy.stderr)")
            let check = try runProcess("/bin/sh", ["-c", "cd '\(directory.path)' && python3 -c \"$0\" log2.jsonl kept.npy", Self.verifyNPY])
            #expect(check.status == 0, "\(command): \(check.stderr)")

            let fromLog = try runProcess(TestPaths.prunerd, ["kept", directory.appendingPathComponent("log2.jsonl").path,
                                                             "-o", directory.appendingPathComponent("again.npy").path])
            #expect(fromLog.status == 0, "\(fromLog.stderr)")
            #expect(try Data(contentsOf: directory.appendingPathComponent("again.npy"))
                    == Data(contentsOf: directory.appendingPathComponent("kept.npy")))
            let textFromLog = try runProcess(TestPaths.prunerd, ["kept", directory.appendingPathComponent("log.jsonl").path])
            #expect(String(decoding: textFromLog.stdout, as: UTF8.self) == text)
            for name in ["log.jsonl", "log2.jsonl"] { try FileManager.default.removeItem(at: directory.appendingPathComponent(name)) }
        }
    }

    @Test("prunerd kept skips a line longer than any decision line without holding it (it held the whole line: /dev/zero grew it without bound)")
    func overlongLine() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var log = Data()
        for i in 0..<3 {
            log += Data("{\"ts\":\"t\",\"src\":\"s\",\"seq\":\(i),\"id\":\"k\(i)\",\"decision\":\"keep\",\"reason\":\"kept\"}\n".utf8)
        }
        // 65 MiB without a newline (what /dev/zero or a binary file looks like), between two decision lines.
        let path = directory.appendingPathComponent("mixed.jsonl")
        try (Data(count: (64 << 20) + (1 << 20)) + Data("\n".utf8) + log).write(to: path)
        let result = try runProcess(TestPaths.prunerd, ["kept", path.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(String(decoding: result.stdout, as: UTF8.self) == "k0\nk1\nk2\n")
    }

    @Test("ids that are not 32-hex uids: the .npy is refused with the id, the text file is written")
    func nonUids() throws {
        let directory = try Self.fixtures()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try runProcess("/bin/sh", ["-c", "cd '\(directory.path)' && exec \"$0\" \"$@\"", TestPaths.prunerd, "serve",
            "emb.npy", "--decisions", "log.jsonl", "--kept-ids", "kept.npy"] + Self.options)
        #expect(result.status == 1)
        #expect(result.stderr.contains("is not a 32-hex-digit uid, so it has no DataComp u8,u8 form"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("kept.npy").path))
    }

    @Test("a daemon writes the kept set on SIGHUP and again at stop")
    func daemonSighupAndStop() throws {
        let directory = try Self.fixtures()
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("in.sock").path
        let kept = directory.appendingPathComponent("kept.txt")
        let log = directory.appendingPathComponent("log.jsonl")
        let daemon = try BackgroundDaemon(arguments: ["serve", "--listen", "unix:\(socket)", "--decisions", log.path,
            "--kept-ids", kept.path, "--state-dir", directory.appendingPathComponent("state").path, "--log-level", "info",
            "--clusters", "2", "--warmup", "20", "--recompute-every", "10", "--lookahead", "0"])
        #expect(daemon.waitForLog("listening on"))
        let records = (0..<100).reduce(Data()) { $0 + Handmade.prn1("k\($1)", Handmade.randomVector($1)) }
        _ = try SocketClient.sendUnix(path: socket, data: records)
        waitUntil("100 lines in \(log.path)") { countLines(log.path) >= 100 }
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(daemon.waitForLog("SIGHUP: kept ids written to \(kept.path)"), "\(daemon.stderr)")
        let first = try String(contentsOf: kept, encoding: .utf8).split(separator: "\n")
        let keptInLog = parseDecisions(try Data(contentsOf: log)).filter { $0.decision == "keep" }.map(\.id)
        #expect(first.map(String.init) == keptInLog && !first.isEmpty)
        let more = (100..<200).reduce(Data()) { $0 + Handmade.prn1("k\($1)", Handmade.randomVector($1)) }
        _ = try SocketClient.sendUnix(path: socket, data: more)
        waitUntil("200 lines in \(log.path)") { countLines(log.path) >= 200 }
        #expect(daemon.terminate() == 0)
        let final = try String(contentsOf: kept, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(final == parseDecisions(try Data(contentsOf: log)).filter { $0.decision == "keep" }.map(\.id))
        #expect(final.count > first.count)
    }
}
