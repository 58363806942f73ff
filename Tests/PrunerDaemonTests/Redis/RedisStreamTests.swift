// `--listen redis://…` end to end: the real binary, a real redis-server, the
// shipped sample shuffled and fed to a stream (100 records an entry, JSON Lines
// from `prunerd decode`). Every record must be decided exactly once across the
// daemons' logs, and every entry acknowledged: with one daemon, two in a group,
// one SIGKILLed and its pending entries claimed by the other, and Redis stopped
// and restarted mid-stream.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("redis stream input", .serialized, .enabled(if: RedisServer.isInstalled, "redis-server is not installed (scripts/install-deps)"))
struct RedisStreamTests {
    static let options = ["--clusters", "20", "--lookahead", "0", "--log-level", "info", "--checkpoint-every", "1"]

    /// The sample's records as JSON lines, shuffled with a fixed seed.
    static let shuffledSample: [String] = {
        let decoded = try! runProcess(TestPaths.prunerd, ["decode", TestPaths.sample])
        var lines = String(decoding: decoded.stdout, as: UTF8.self).split(separator: "\n").map(String.init)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for index in stride(from: lines.count - 1, to: 0, by: -1) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            lines.swapAt(index, Int((state >> 33) % UInt64(index + 1)))
        }
        return lines
    }()

    static var sampleIDs: [String] {
        shuffledSample.map { line in
            (try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])["id"] as! String
        }
    }

    /// XADDs `lines[range]` as entries of `perEntry` records (field `records`) through `redis-cli --pipe`.
    static func feed(_ server: RedisServer, stream: String, _ range: Range<Int>, perEntry: Int = 100) throws {
        var resp = Data()
        func bulk(_ bytes: Data) {
            resp.append(Data("$\(bytes.count)\r\n".utf8)); resp.append(bytes); resp.append(Data("\r\n".utf8))
        }
        for start in stride(from: range.lowerBound, to: range.upperBound, by: perEntry) {
            let body = shuffledSample[start..<min(start + perEntry, range.upperBound)].joined(separator: "\n") + "\n"
            resp.append(Data("*5\r\n".utf8))
            for word in ["XADD", stream, "*", "records"] { bulk(Data(word.utf8)) }
            bulk(Data(body.utf8))
        }
        let result = try runProcess("/usr/bin/redis-cli", ["-h", "127.0.0.1", "-p", "\(server.port)", "--pipe"], input: resp)
        #expect(result.status == 0, "\(result.stderr)")
    }

    /// Entries of `group` not yet acknowledged.
    static func pending(_ server: RedisServer, stream: String, group: String = "prunerd") -> Int {
        let text = (try? server.raw(["XPENDING", stream, group])) ?? ""
        return Int(text.split(separator: "\n").first.map(String.init) ?? "") ?? -1
    }

    static func decisions(_ path: String) -> [DecisionLine] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        // Only whole lines: a log being written may end inside one.
        guard let end = data.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        return parseDecisions(data[...end])
    }

    static func waitFor(_ what: String, timeout: TimeInterval = 180, sourceLocation: SourceLocation = #_sourceLocation,
                        _ condition: () -> Bool) -> Bool {
        waitUntil(what, timeout: timeout, poll: 0.1, sourceLocation: sourceLocation, condition)
    }

    /// - Parameter holds: without `--max-hold`, records wait in the warm-up until it is full (or the daemon stops).
    static func daemon(_ server: RedisServer, work: URL, name: String, stream: String, extra: [String] = [],
                       holds: Bool = false, environment: [String: String] = [:]) throws -> BackgroundDaemon {
        try BackgroundDaemon(arguments: ["serve", "--listen", server.url(stream), "--consumer", name] + (holds ? [] : ["--max-hold", "0.3"]) + [
            "--decisions", work.appendingPathComponent("\(name).jsonl").path,
            "--state-dir", work.appendingPathComponent("\(name)-state").path,
            "--control", work.appendingPathComponent("\(name).sock").path] + options + extra, environment: environment)
    }

    /// Every sample id exactly once over `logs`; returns the lines.
    @discardableResult
    static func expectExactlyOnce(_ logs: [String]) -> [DecisionLine] {
        let lines = logs.flatMap(decisions)
        var seen: [String: Int] = [:]
        for line in lines { seen[line.id, default: 0] += 1 }
        let twice = seen.filter { $0.value > 1 }
        #expect(lines.count == 8000, "\(lines.count) lines")
        #expect(twice.isEmpty, "decided more than once: \(twice.prefix(5))")
        #expect(Set(seen.keys) == Set(sampleIDs))
        // The origin names the entry: src is redis://HOST:PORT/STREAM/ENTRY-ID, seq the record's index in it.
        #expect(lines.allSatisfy { $0.src.contains("/crawl/") && $0.seq < 100 })
        return lines
    }

    @Test("one daemon: the shuffled sample from 80 entries, each record decided once, every entry acknowledged")
    func oneDaemon() throws {
        let server = try RedisServer()
        defer { server.stop() }
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        try Self.feed(server, stream: "crawl", 0..<8000)
        let daemon = try Self.daemon(server, work: work, name: "a", stream: "crawl", extra: ["--warmup", "2000"])
        let log = work.appendingPathComponent("a.jsonl").path
        _ = Self.waitFor("8000 lines") { Self.decisions(log).count >= 8000 }
        _ = Self.waitFor("every entry acknowledged") { Self.pending(server, stream: "crawl") == 0 }
        let status = try runProcess(TestPaths.prunerd, ["status", "--control", work.appendingPathComponent("a.sock").path])
        let document = try JSONSerialization.jsonObject(with: status.stdout) as? [String: Any]
        let stream = (document?["redis_streams"] as? [[String: Any]])?.first
        #expect(stream?["entries_read"] as? Int == 80 && stream?["entries_acknowledged"] as? Int == 80
                && stream?["entries_in_hand"] as? Int == 0 && stream?["consumer"] as? String == "a", "\(status.stderr) \(String(decoding: status.stdout, as: UTF8.self).prefix(300))")
        #expect(daemon.terminate() == 0)
        let lines = Self.expectExactlyOnce([log])
        // Near the target ratio (--max-hold releases decide against the quotas of the moment they fire,
        // so the realised ratio wanders a little; measured 0.3165 here).
        let kept = lines.filter { $0.decision == "keep" }.count
        #expect(abs(Double(kept) / 8000 - 0.3) < 0.03, "kept \(kept)")
        #expect(daemon.stderr.contains("80 entries read"), "\(daemon.stderr)")
        #expect(!daemon.stderr.contains("unreachable"), "\(daemon.stderr)")
    }

    @Test("two daemons in one group: the entries split between them, each record decided once across both logs")
    func twoDaemons() throws {
        let server = try RedisServer()
        defer { server.stop() }
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let a = try Self.daemon(server, work: work, name: "a", stream: "crawl", extra: ["--warmup", "1000"])
        let b = try Self.daemon(server, work: work, name: "b", stream: "crawl", extra: ["--warmup", "1000"])
        #expect(a.waitForLog("reading redis://") && b.waitForLog("reading redis://"))
        try Self.feed(server, stream: "crawl", 0..<8000)
        let logs = ["a", "b"].map { work.appendingPathComponent("\($0).jsonl").path }
        _ = Self.waitFor("8000 lines") { logs.map { Self.decisions($0).count }.reduce(0, +) >= 8000 }
        _ = Self.waitFor("every entry acknowledged") { Self.pending(server, stream: "crawl") == 0 }
        #expect(a.terminate() == 0 && b.terminate() == 0)
        Self.expectExactlyOnce(logs)
        print("redis two daemons: a \(Self.decisions(logs[0]).count) lines, b \(Self.decisions(logs[1]).count) lines")
    }

    @Test("a daemon SIGKILLed with entries pending: the other claims them after --claim-after, nothing lost or doubled")
    func killedConsumerIsClaimed() throws {
        let server = try RedisServer()
        defer { server.stop() }
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        // A's warm-up outlasts what it reads: it holds 30 entries undecided (pending) when it is killed.
        let a = try Self.daemon(server, work: work, name: "a", stream: "crawl", extra: ["--warmup", "5000"], holds: true)
        #expect(a.waitForLog("reading redis://"))
        try Self.feed(server, stream: "crawl", 0..<3000)
        _ = Self.waitFor("A holding 30 entries") { Self.pending(server, stream: "crawl") == 30 }
        kill(a.process.processIdentifier, SIGKILL)
        a.process.waitUntilExit()
        let b = try Self.daemon(server, work: work, name: "b", stream: "crawl", extra: ["--warmup", "2000", "--claim-after", "2"])
        try Self.feed(server, stream: "crawl", 3000..<8000)
        let logs = ["a", "b"].map { work.appendingPathComponent("\($0).jsonl").path }
        _ = Self.waitFor("8000 lines") { logs.map { Self.decisions($0).count }.reduce(0, +) >= 8000 }
        _ = Self.waitFor("every entry acknowledged") { Self.pending(server, stream: "crawl") == 0 }
        #expect(b.terminate() == 0)
        Self.expectExactlyOnce(logs)
        #expect(b.stderr.contains("claimed"), "\(b.stderr)")
    }

    @Test("a daemon SIGKILLed with entries pending and restarted from its checkpoint under the same --consumer: the redelivered entries' records held by the restored engine are not handed in again")
    func restartSameConsumer() throws {
        let server = try RedisServer()
        defer { server.stop() }
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let first = try Self.daemon(server, work: work, name: "a", stream: "crawl", extra: ["--warmup", "5000"], holds: true)
        #expect(first.waitForLog("reading redis://"))
        try Self.feed(server, stream: "crawl", 0..<3000)
        _ = Self.waitFor("30 entries held") { Self.pending(server, stream: "crawl") == 30 }
        // Two checkpoints after the reads: the warm-up buffer with all 3000 records is in one.
        let checkpoints = first.stderr.components(separatedBy: "checkpoint written").count
        _ = Self.waitFor("two more checkpoints") { first.stderr.components(separatedBy: "checkpoint written").count >= checkpoints + 2 }
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        let again = try Self.daemon(server, work: work, name: "a", stream: "crawl", extra: ["--warmup", "5000"])
        #expect(again.waitForLog("30 entries were pending for consumer a; 3000 of their records"), "\(again.stderr)")
        try Self.feed(server, stream: "crawl", 3000..<8000)
        let log = work.appendingPathComponent("a.jsonl").path
        _ = Self.waitFor("8000 lines") { Self.decisions(log).count >= 8000 }
        _ = Self.waitFor("every entry acknowledged") { Self.pending(server, stream: "crawl") == 0 }
        #expect(again.terminate() == 0)
        Self.expectExactlyOnce([log])
    }

    @Test("decided but the commit never applied (Redis paused writes, then the daemon stopped): no line is logged, and a restart under the same --consumer decides the 80 pending entries once")
    func uncommittedEntriesAreNotLogged() throws {
        let server = try RedisServer()
        defer { server.stop() }
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        try Self.feed(server, stream: "crawl", 0..<8000)
        // A warm-up larger than the stream: all 80 entries are read and held, nothing decided yet.
        let first = try Self.daemon(server, work: work, name: "a", stream: "crawl", extra: ["--warmup", "9000"], holds: true)
        _ = Self.waitFor("80 entries held") { Self.pending(server, stream: "crawl") == 80 }
        // Writes (the commit script) wait on the server; the stop decides everything and gives up on the commits.
        try server.cli(["CLIENT", "PAUSE", "30000", "WRITE"])
        #expect(first.terminate() == 0)
        #expect(first.stderr.contains("80 entries decided but not committed"), "\(first.stderr)")
        try server.cli(["CLIENT", "UNPAUSE"])
        let log = work.appendingPathComponent("a.jsonl").path
        #expect(Self.decisions(log).isEmpty, "a line in the log is a committed one")
        #expect(Self.pending(server, stream: "crawl") == 80)
        let again = try Self.daemon(server, work: work, name: "a", stream: "crawl", extra: ["--warmup", "9000"])
        #expect(again.waitForLog("80 entries were pending for consumer a; 0 of their records"), "\(again.stderr)")
        _ = Self.waitFor("every entry acknowledged") { Self.pending(server, stream: "crawl") == 0 }
        #expect(again.terminate() == 0)
        Self.expectExactlyOnce([log])
    }

    /// Waits up to a minute for a daemon to exit by itself (the test hook kills it); SIGKILL and false if not.
    static func waitForExit(_ daemon: BackgroundDaemon) -> Bool {
        _ = pollUntil(timeout: 60) { !daemon.process.isRunning }
        guard daemon.process.isRunning else { return true }
        kill(daemon.process.processIdentifier, SIGKILL)
        daemon.process.waitUntilExit()
        return false
    }

    /// The hash of consumer `consumer`'s committed lines not yet fsynced.
    static func unlogged(_ server: RedisServer, consumer: String) -> Int {
        Int(((try? server.raw(["HLEN", "prunerd:stream:crawl:prunerd:unlogged:\(consumer)"])) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    @Test("SIGKILLed with its entries decided and not yet committed (PRUNERD_TEST_KILL_AT=before-commit: where fsync-then-XACK had lines in its log): the other consumer claims them, and every record has one line across both logs")
    func killedBeforeCommitIsDecidedOnce() throws {
        let server = try RedisServer()
        defer { server.stop() }
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        try Self.feed(server, stream: "crawl", 0..<3000)
        let a = try Self.daemon(server, work: work, name: "a", stream: "crawl", extra: ["--warmup", "1000"],
                                environment: ["PRUNERD_TEST_KILL_AT": "before-commit"])
        #expect(Self.waitForExit(a), "\(a.stderr)")
        #expect(a.process.terminationReason == .uncaughtSignal && a.process.terminationStatus == SIGKILL, "\(a.stderr)")
        let logs = ["a", "b"].map { work.appendingPathComponent("\($0).jsonl").path }
        #expect(Self.decisions(logs[0]).isEmpty, "a decided its first entries, and none is in its log")
        let held = Self.pending(server, stream: "crawl")
        #expect(held > 0)
        let b = try Self.daemon(server, work: work, name: "b", stream: "crawl", extra: ["--warmup", "1000", "--claim-after", "2"])
        try Self.feed(server, stream: "crawl", 3000..<8000)
        _ = Self.waitFor("8000 lines") { logs.map { Self.decisions($0).count }.reduce(0, +) >= 8000 }
        _ = Self.waitFor("every entry acknowledged") { Self.pending(server, stream: "crawl") == 0 }
        #expect(b.terminate() == 0)
        Self.expectExactlyOnce(logs)
        #expect(b.stderr.contains("claimed"), "\(b.stderr)")
        #expect(Self.unlogged(server, consumer: "b") == 0)
    }

    @Test("SIGKILLed once its first entries are committed and before their lines are written (PRUNERD_TEST_KILL_AT=after-commit): the restart under the same --consumer writes them from Redis, each record once")
    func killedAfterCommitIsRecovered() throws {
        let server = try RedisServer()
        defer { server.stop() }
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        try Self.feed(server, stream: "crawl", 0..<8000)
        let first = try Self.daemon(server, work: work, name: "a", stream: "crawl", extra: ["--warmup", "1000"],
                                    environment: ["PRUNERD_TEST_KILL_AT": "after-commit"])
        #expect(Self.waitForExit(first), "\(first.stderr)")
        #expect(first.process.terminationReason == .uncaughtSignal, "\(first.stderr)")
        let log = work.appendingPathComponent("a.jsonl").path
        #expect(Self.decisions(log).isEmpty)
        let committed = Self.unlogged(server, consumer: "a")
        #expect(committed > 0, "the committed entries' lines wait in Redis")
        let again = try Self.daemon(server, work: work, name: "a", stream: "crawl", extra: ["--warmup", "1000"])
        #expect(again.waitForLog("entries committed by an earlier run of consumer a were waiting for their fsync"), "\(again.stderr)")
        _ = Self.waitFor("8000 lines") { Self.decisions(log).count >= 8000 }
        _ = Self.waitFor("every entry acknowledged") { Self.pending(server, stream: "crawl") == 0 }
        #expect(again.terminate() == 0)
        Self.expectExactlyOnce([log])
        #expect(Self.unlogged(server, consumer: "a") == 0, "the fields are deleted once the lines are fsynced")
    }

    @Test("redis-server stopped for 3 s mid-stream and started again: warned, reconnected, nothing lost or doubled")
    func redisRestart() throws {
        let server = try RedisServer()
        defer { server.stop() }
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let a = try Self.daemon(server, work: work, name: "a", stream: "crawl", extra: ["--warmup", "1000"])
        let log = work.appendingPathComponent("a.jsonl").path
        try Self.feed(server, stream: "crawl", 0..<4000)
        _ = Self.waitFor("some lines") { Self.decisions(log).count >= 1000 }
        try server.stop(saving: true)
        #expect(a.waitForLog("unreachable"))
        sleep(3)   // deliberate: the daemon keeps retrying through a 3 s outage
        try server.start()
        try Self.feed(server, stream: "crawl", 4000..<8000)
        _ = Self.waitFor("8000 lines") { Self.decisions(log).count >= 8000 }
        _ = Self.waitFor("every entry acknowledged") { Self.pending(server, stream: "crawl") == 0 }
        #expect(a.terminate() == 0)
        Self.expectExactlyOnce([log])
        #expect(a.stderr.contains("reachable again"), "\(a.stderr)")
    }

    @Test("bad entries (no records field, bytes that are no records) are named by entry id and offset, acknowledged, and reading goes on")
    func badEntries() throws {
        let server = try RedisServer()
        defer { server.stop() }
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        try server.cli(["XADD", "crawl", "*", "other", "x"])
        try server.cli(["XADD", "crawl", "*", "records", "not a record"])
        try Self.feed(server, stream: "crawl", 0..<8000)
        let a = try Self.daemon(server, work: work, name: "a", stream: "crawl", extra: ["--warmup", "2000"])
        let log = work.appendingPathComponent("a.jsonl").path
        _ = Self.waitFor("8000 lines") { Self.decisions(log).count >= 8000 }
        _ = Self.waitFor("every entry acknowledged") { Self.pending(server, stream: "crawl") == 0 }
        #expect(a.terminate() == 0)
        Self.expectExactlyOnce([log])
        #expect(a.stderr.contains("no field 'records' (fields: other)"))
        #expect(a.stderr.contains("record error at decompressed byte offset 0"))
    }
}
