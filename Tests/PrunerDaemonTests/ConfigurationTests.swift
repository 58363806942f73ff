// The configuration file sits between the built-in defaults and the command
// line, is reloaded on SIGHUP, and refuses what it does not know; daemon logs
// carry journald priorities when stderr is the journal.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("configuration and logging", .serialized)
struct ConfigurationTests {
    static func records(_ count: Int) -> Data { SocketTests.records("cfg", count: count, offset: 0) }

    func keptFraction(_ result: ProcessResult) -> Double {
        let lines = parseDecisions(result.stdout)
        return Double(lines.filter { $0.decision == "keep" }.count) / Double(max(lines.count, 1))
    }

    @Test("file values replace defaults; the command line replaces the file")
    func layering() throws {
        let directory = TestPaths.temporaryDirectory()
        let config = directory.appendingPathComponent("prunerd.toml")
        try """
        # an operator's settings
        keep-ratio = 0.5
        clusters = 4
        warmup = 200
        lookahead = 0
        recompute-every = 100
        decisions = "-"
        """.write(to: config, atomically: true, encoding: .utf8)
        let fromFile = try runProcess(TestPaths.prunerd, ["serve", "--config", config.path], input: Self.records(2000))
        #expect(fromFile.status == 0, "\(fromFile.stderr)")
        #expect(abs(keptFraction(fromFile) - 0.5) < 0.01)
        let overridden = try runProcess(TestPaths.prunerd, ["serve", "--config", config.path, "--keep-ratio", "0.2"],
                                        input: Self.records(2000))
        #expect(abs(keptFraction(overridden) - 0.2) < 0.01)
    }

    @Test("unknown keys and mistyped values are errors naming the file and the key")
    func refusesWhatItDoesNotKnow() throws {
        let directory = TestPaths.temporaryDirectory()
        let config = directory.appendingPathComponent("bad.toml")
        try "keep-ration = 0.5\n".write(to: config, atomically: true, encoding: .utf8)
        let typo = try runProcess(TestPaths.prunerd, ["serve", "--config", config.path, "--decisions", "-"], input: Data())
        #expect(typo.status != 0)
        #expect(typo.stderr.contains("unknown key 'keep-ration'") && typo.stderr.contains(config.path))
        try "clusters = \"many\"\n".write(to: config, atomically: true, encoding: .utf8)
        let mistyped = try runProcess(TestPaths.prunerd, ["serve", "--config", config.path, "--decisions", "-"], input: Data())
        #expect(mistyped.status != 0)
        #expect(mistyped.stderr.contains("'clusters' must be an integer"))
    }

    @Test("SIGHUP reloads live options from the file and refuses the rest, keeping the running configuration")
    func reloadOnSighup() throws {
        let directory = TestPaths.temporaryDirectory()
        let config = directory.appendingPathComponent("prunerd.toml")
        let socketPath = directory.appendingPathComponent("in.sock").path
        let base = """
        listen = ["unix:\(socketPath)"]
        decisions = "\(directory.appendingPathComponent("d.jsonl").path)"
        state-dir = "\(directory.path)"
        clusters = 4
        warmup = 200
        lookahead = 0
        recompute-every = 100
        """
        try (base + "\nkeep-ratio = 0.3\n").write(to: config, atomically: true, encoding: .utf8)
        let daemon = try BackgroundDaemon(arguments: ["serve", "--config", config.path])
        #expect(daemon.waitForLog("listening on unix:"))
        _ = try SocketClient.sendUnix(path: socketPath, data: Self.records(500))
        // Reload a daemon past its warm-up (look-ahead 0: every record is decided on arrival).
        let log = directory.appendingPathComponent("d.jsonl").path
        waitUntil("500 lines in \(log)") { countLines(log) >= 500 }
        try (base + "\nkeep-ratio = 0.6\ntemperature = 0.2\n").write(to: config, atomically: true, encoding: .utf8)
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(daemon.waitForLog("reloaded options: keep-ratio 0.6, temperature 0.2"))
        try (base.replacingOccurrences(of: "clusters = 4", with: "clusters = 9") + "\nkeep-ratio = 0.6\n")
            .write(to: config, atomically: true, encoding: .utf8)
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(daemon.waitForLog("reload refused, running configuration kept"))
        #expect(daemon.terminate() == 0)
    }

    @Test("with JOURNAL_STREAM naming stderr, log lines carry syslog priorities")
    func journalPriorities() throws {
        let stderrPipe = Pipe()
        var info = stat()
        fstat(stderrPipe.fileHandleForWriting.fileDescriptor, &info)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.prunerd)
        process.arguments = ["serve", "--decisions", "-", "--clusters", "2", "--warmup", "4"]
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino)"]) { $1 }
        let stdinPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderrPipe
        try process.run()
        stdinPipe.fileHandleForWriting.write(Data("hello, not a record\n".utf8))
        try stdinPipe.fileHandleForWriting.close()
        process.waitUntilExit()
        try stderrPipe.fileHandleForWriting.close()
        let log = String(decoding: stderrPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("<3>input stdin closed: record error"), "\(log)")
        #expect(log.contains("<6>stopped:"), "\(log)")
    }
}
