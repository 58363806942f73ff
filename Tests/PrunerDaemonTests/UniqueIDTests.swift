// `--unique-ids` end to end with the real binary: a shard sent twice (two
// connections, or two files) keeps each id once, the second copy answered
// drop/duplicate_id; a restart from the state directory still knows the first
// run's ids; SIGKILLs never make a record its own duplicate.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("unique ids", .serialized)
struct UniqueIDTests {
    static let options = ["--clusters", "4", "--warmup", "300", "--recompute-every", "100", "--lookahead", "0",
                          "--log-level", "info", "--expected-records", "100000"]

    /// `count` PRN1 records of d = 16 with ids `prefix-i`.
    static func shard(_ range: Range<Int>, prefix: String = "rec") -> Data {
        var data = Data()
        for i in range { data.append(Handmade.prn1("\(prefix)-\(i)", Handmade.randomVector(i))) }
        return data
    }

    static func lines(_ path: String) throws -> [DecisionLine] {
        parseDecisions(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test("the same shard on two reply-mode connections: the second copy is all drop/duplicate_id, the kept set is not doubled")
    func twoConnections() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let socket = work.appendingPathComponent("in.sock").path
        let log = work.appendingPathComponent("log.jsonl").path
        let state = work.appendingPathComponent("state").path
        let port = SocketClient.freePort()
        let daemon = try BackgroundDaemon(arguments: ["serve", "--listen", "unix:\(socket)", "--reply", "--decisions", log,
            "--state-dir", state, "--max-hold", "0.2", "--unique-ids", "--metrics", "tcp:127.0.0.1:\(port)"] + Self.options)
        #expect(daemon.waitForLog("listening on unix:\(socket)"))
        let shard = Self.shard(0..<1500)
        let firstReply = parseDecisions(try SocketClient.sendUnix(path: socket, data: shard, readReply: true))
        #expect(firstReply.count == 1500 && firstReply.allSatisfy { $0.reason != "duplicate_id" })
        // The retry's answers come back on its own connection: every record a repeat.
        let secondReply = parseDecisions(try SocketClient.sendUnix(path: socket, data: shard, readReply: true))
        #expect(secondReply.count == 1500 && secondReply.allSatisfy { $0.reason == "duplicate_id" })
        #expect(waitForLines(in: log, atLeast: 3000) == 3000)
        let status = try runProcess(TestPaths.prunerd, ["status", "--state-dir", state])
        let document = try JSONSerialization.jsonObject(with: status.stdout) as? [String: Any]
        #expect(document?["unique_ids"] as? Int == 1500, "\(status.stdout)")
        #expect(document?["unique_ids_expected"] as? Int == 100_000)
        #expect((document?["dropped_by_reason"] as? [String: Int])?["duplicate_id"] == 1500)
        let metrics = String(decoding: try SocketClient.sendTCP(port: port, data: Data("GET /metrics HTTP/1.1\r\n\r\n".utf8), readReply: true),
                             as: UTF8.self)
        #expect(metrics.contains("\nprunerd_unique_ids 1500\n"), "\(metrics)")
        #expect(metrics.contains("prunerd_unique_ids_false_positive_rate "))
        #expect(daemon.terminate() == 0, "\(daemon.stderr)")

        let decided = try Self.lines(log)
        #expect(decided.count == 3000)
        let first = decided.filter { $0.src.hasSuffix("#1") }, second = decided.filter { $0.src.hasSuffix("#2") }
        #expect(first.count == 1500 && second.count == 1500)
        #expect(first.allSatisfy { $0.reason != "duplicate_id" })
        #expect(second.allSatisfy { $0.decision == "drop" && $0.reason == "duplicate_id" && $0.cluster == nil && $0.dist == nil && $0.threshold == nil })
        #expect(second.map(\.seq) == Array(0..<1500), "answered in input order")
        let kept = decided.filter { $0.decision == "keep" }.map(\.id)
        #expect(!kept.isEmpty && Set(kept).count == kept.count, "no id kept twice")
        #expect(daemon.stderr.contains("stopped: 3000 records"), "\(daemon.stderr)")
    }

    @Test("two files with the same records, and a restart from the state directory: each id decided once")
    func filesAndRestart() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let a = work.appendingPathComponent("a.prn1"), copy = work.appendingPathComponent("copy.prn1")
        try Self.shard(0..<1500).write(to: a)
        try Self.shard(0..<1500).write(to: copy)
        let log = work.appendingPathComponent("log.jsonl").path
        let state = work.appendingPathComponent("state").path
        let common = ["--decisions", log, "--state-dir", state, "--checkpoint-every", "0", "--unique-ids"] + Self.options

        // Both files at once: whichever copy is read first is decided, the other is the repeat.
        let both = try runProcess(TestPaths.prunerd, ["serve", a.path, copy.path, "--decisions", work.appendingPathComponent("both.jsonl").path,
                                                      "--unique-ids"] + Self.options)
        #expect(both.status == 0, "\(both.stderr)")
        let together = try Self.lines(work.appendingPathComponent("both.jsonl").path)
        #expect(together.count == 3000)
        #expect(together.filter { $0.reason == "duplicate_id" }.count == 1500)
        #expect(Set(together.filter { $0.reason != "duplicate_id" }.map(\.id)).count == 1500, "each id decided once")
        let keptTogether = together.filter { $0.decision == "keep" }.map(\.id)
        #expect(Set(keptTogether).count == keptTogether.count)
        // Without --unique-ids the same run keeps ids twice: the flag is what prevents it.
        let plain = try runProcess(TestPaths.prunerd, ["serve", a.path, copy.path, "--decisions", work.appendingPathComponent("plain.jsonl").path]
                                   + Self.options)
        #expect(plain.status == 0, "\(plain.stderr)")
        let keptPlain = try Self.lines(work.appendingPathComponent("plain.jsonl").path).filter { $0.decision == "keep" }.map(\.id)
        #expect(Set(keptPlain).count < keptPlain.count)

        // Run 1 decides a.prn1 and checkpoints at its stop; run 2 restarts from the state directory with
        // the copy and 500 new records: the copy's ids are known, the new ones decided.
        let first = try runProcess(TestPaths.prunerd, ["serve", a.path] + common)
        #expect(first.status == 0, "\(first.stderr)")
        let more = work.appendingPathComponent("more.prn1")
        try (Self.shard(0..<1500) + Self.shard(1500..<2000)).write(to: more)
        let second = try runProcess(TestPaths.prunerd, ["serve", more.path] + common)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("--unique-ids: the checkpoint's id filter holds 1500 ids"), "\(second.stderr)")
        #expect(second.stderr.contains("dropped as duplicate_id (--unique-ids: the id was already decided): 1500"), "\(second.stderr)")
        let decided = try Self.lines(log)
        #expect(decided.count == 3500)
        let run2 = decided.filter { $0.src.hasSuffix("more.prn1") }
        #expect(run2.count == 2000)
        #expect(run2.prefix(1500).allSatisfy { $0.reason == "duplicate_id" && $0.decision == "drop" })
        #expect(run2.dropFirst(1500).allSatisfy { $0.reason != "duplicate_id" })
        let kept = decided.filter { $0.decision == "keep" }.map(\.id)
        #expect(Set(kept).count == kept.count)
        // Without --unique-ids the restored filter is left alone, and said so.
        let third = work.appendingPathComponent("third.prn1")
        try Self.shard(0..<10).write(to: third)
        // The same records once more: every one a repeat, said so, and not a failed run.
        let again = try runProcess(TestPaths.prunerd, ["serve", copy.path] + common)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("every record's id was already decided (--unique-ids): all 1500"), "\(again.stderr)")
        let without = try runProcess(TestPaths.prunerd, ["serve", third.path, "--decisions", log, "--state-dir", state,
                                                         "--checkpoint-every", "0"] + Self.options)
        #expect(without.status == 0, "\(without.stderr)")
        #expect(without.stderr.contains("the checkpoint's id filter is not used"), "\(without.stderr)")
    }

    @Test("a checkpoint without a filter (written without --unique-ids) is still restored, with a warning")
    func olderCheckpoint() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let a = work.appendingPathComponent("a.prn1"), b = work.appendingPathComponent("b.prn1")
        try Self.shard(0..<600).write(to: a)
        try Self.shard(0..<600).write(to: b)
        let log = work.appendingPathComponent("log.jsonl").path
        let common = ["--decisions", log, "--state-dir", work.appendingPathComponent("state").path, "--checkpoint-every", "0"] + Self.options
        #expect(try runProcess(TestPaths.prunerd, ["serve", a.path] + common).status == 0)
        let second = try runProcess(TestPaths.prunerd, ["serve", b.path, "--unique-ids"] + common)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("restored checkpoint"), "\(second.stderr)")
        #expect(second.stderr.contains("the checkpoint holds no id filter"), "\(second.stderr)")
        #expect(try Self.lines(log).filter { $0.reason == "duplicate_id" }.count == 0)
    }

    @Test("SIGKILLed at random moments with --unique-ids: no record is ever its own duplicate, one line per record")
    func killLoop() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let log = work.appendingPathComponent("decisions.jsonl").path
        let command = ["serve", CrashResumeTests.input.path, "--decisions", log, "--state-dir", work.appendingPathComponent("state").path,
                       "--checkpoint-every", "0.1", "--unique-ids", "--expected-records", "200000"] + CrashResumeTests.engine
        let tally = try RestartLoop.run(command, log: log, signal: SIGKILL, stops: 5, seed: 7, work: work, maxRuns: 20)
        #expect(tally.stops >= 3, "\(tally.stops) kills landed in \(tally.runs) runs")
        let final = try runProcess(TestPaths.prunerd, command)
        #expect(final.status == 0, "\(final.stderr)")
        _ = try RestartLoop.exactlyOnce(log: log, records: CrashResumeTests.records)
        #expect(try Self.lines(log).filter { $0.reason == "duplicate_id" }.count == 0, "records taken for their own repeat")
    }

    @Test("more ids than --expected-records: a warning naming the rate and the way out")
    func overfilled() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let a = work.appendingPathComponent("a.prn1")
        try Self.shard(0..<1500).write(to: a)
        let result = try runProcess(TestPaths.prunerd, ["serve", a.path, "--decisions", work.appendingPathComponent("d.jsonl").path,
                                                        "--unique-ids"] + Self.options + ["--expected-records", "1000"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("more than the 1000 it was sized for (--expected-records)"), "\(result.stderr)")
        #expect(result.stderr.contains("with a larger --expected-records"))
    }

    @Test("--unique-ids and --expected-records in the TOML file and --check-config")
    func configKeys() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let config = work.appendingPathComponent("p.toml")
        try "unique-ids = true\nexpected-records = 5000\n".write(to: config, atomically: true, encoding: .utf8)
        let result = try runProcess(TestPaths.prunerd, ["serve", "--config", config.path, "--check-config"])
        #expect(result.status == 0, "\(result.stderr)")
        let text = String(decoding: result.stdout, as: UTF8.self)
        #expect(text.contains("unique-ids = true") && text.contains("expected-records = 5000"), "\(text)")
        let bad = try runProcess(TestPaths.prunerd, ["serve", "--expected-records", "0", "--check-config"])
        #expect(bad.status != 0 && bad.stderr.contains("--expected-records must be between 1"), "\(bad.stderr)")
    }
}
