// Crash-safe resume for file inputs: SIGKILLed at random moments and started
// again with the same command, prunerd ends with exactly one whole line per
// record and the kept set of an uninterrupted run; a changed input is refused.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("crash-safe resume", .serialized)
struct CrashResumeTests {
    static let engine = ["--clusters", "20", "--warmup", "2000", "--lookahead", "1000", "--seed", "5"]

    static let records = 120_000

    /// 120,000 records of d = 64 (float16, one LZ4 frame from the lz4 CLI).
    static let input: URL = {
        let directory = TestPaths.temporaryDirectory()
        let npy = directory.appendingPathComponent("x.npy")
        try! writeSyntheticNPY(rows: records, dimension: 64, clusters: 20, seed: 11, to: npy)
        let output = directory.appendingPathComponent("stream.prn1.lz4")
        let result = try! runProcess("/usr/bin/env", ["python3", TestPaths.producer, "--npy", npy.path, "--dtype", "f16",
                                                      "--lz4", "cli", "-o", output.path])
        precondition(result.status == 0, result.stderr)
        return output
    }()

    /// The same 120,000 rows as a float32 `.npy` (its records' `seq` is the row).
    static let npyInput: URL = input.deletingLastPathComponent().appendingPathComponent("x.npy")

    @Test("SIGKILL at 12 random moments, restarted with the same command: one whole line per record, the uninterrupted kept set",
          arguments: zip(["lz4", "lz4", "npy"], ["auto", "online", "auto"]))
    func killLoop(kind: String, update: String) throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let options = Self.engine + ["--update", update]
        let input = kind == "npy" ? Self.npyInput : Self.input
        let reference = work.appendingPathComponent("reference.jsonl").path
        let uninterrupted = try runProcess(TestPaths.prunerd, ["serve", input.path, "--decisions", reference] + options)
        try #require(uninterrupted.status == 0, "\(uninterrupted.stderr)")

        let log = work.appendingPathComponent("decisions.jsonl").path
        let keptFile = work.appendingPathComponent("kept.txt")
        let command = ["serve", input.path, "--decisions", log, "--state-dir", work.appendingPathComponent("state").path,
                       "--checkpoint-every", "0.1", "--kept-ids", keptFile.path] + options
        let tally = try RestartLoop.run(command, log: log, signal: SIGKILL, stops: 12,
                                        seed: kind == "npy" ? 3 : update == "online" ? 2 : 1, work: work)
        #expect(tally.stops >= 10, "\(tally.stops) kills landed in \(tally.runs) runs")
        let final = try runProcess(TestPaths.prunerd, command)
        #expect(final.status == 0, "\(final.stderr)")
        #expect(tally.resumed >= 3, "only \(tally.resumed) runs resumed from a recorded position")

        // Every line whole and parseable, exactly one per record, the uninterrupted run's decisions.
        let verdicts = try RestartLoop.exactlyOnce(log: log, records: Self.records)
        try RestartLoop.expectUninterrupted(verdicts, reference: reference)
        // --kept-ids of the last run covers the whole run (the log's earlier decisions too), each id once.
        let keptBefore = Set(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: reference))).filter { $0.decision == "keep" }.map(\.id))
        let keptIds = try String(contentsOf: keptFile, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(keptIds.count == keptBefore.count && Set(keptIds) == keptBefore,
                "--kept-ids holds \(keptIds.count) ids (\(Set(keptIds).count) distinct), the run kept \(keptBefore.count)")
    }

    @Test("an input that shrank or changed since the checkpoint is refused, naming it; --fresh --overwrite starts anew")
    func changedInputIsRefused() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        var data = Data()
        for i in 0..<3000 { data += Handmade.prn1("r\(i)", Handmade.randomVector(i, dimension: 16)) }
        let input = work.appendingPathComponent("in.prn1")
        try data.write(to: input)
        let log = work.appendingPathComponent("d.jsonl").path
        let command = ["serve", input.path, "--decisions", log, "--state-dir", work.appendingPathComponent("state").path,
                       "--checkpoint-every", "0", "--clusters", "4", "--warmup", "200", "--lookahead", "100"]
        let first = try runProcess(TestPaths.prunerd, command)
        try #require(first.status == 0, "\(first.stderr)")

        // The same file again: nothing left to read, nothing decided twice.
        let again = try runProcess(TestPaths.prunerd, command)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("resumes after record 3000"))
        #expect(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log))).count == 3000)

        try data.prefix(data.count - 100).write(to: input)
        let shrunk = try runProcess(TestPaths.prunerd, command)
        #expect(shrunk.status != 0)
        #expect(shrunk.stderr.contains("input file:\(input.path) changed since the checkpoint: it shrank from \(data.count) to \(data.count - 100) bytes"),
                "\(shrunk.stderr)")

        var changed = data
        changed[changed.count - 5] ^= 0xFF
        try changed.write(to: input)
        let edited = try runProcess(TestPaths.prunerd, command)
        #expect(edited.status != 0)
        #expect(edited.stderr.contains("input file:\(input.path) changed since the checkpoint: its content differs"), "\(edited.stderr)")
        #expect(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log))).count == 3000, "a refused start leaves the log alone")

        let anew = try runProcess(TestPaths.prunerd, command + ["--fresh", "--overwrite"])
        #expect(anew.status == 0, "\(anew.stderr)")
        #expect(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log))).count == 3000)
    }

    @Test("a .npy input resumes after its rows handed on; a changed .npy is refused, naming it")
    func npyResumesAndAChangedOneIsRefused() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let input = work.appendingPathComponent("rows.npy")
        try writeSyntheticNPY(rows: 3000, dimension: 16, clusters: 4, seed: 3, to: input)
        let log = work.appendingPathComponent("d.jsonl").path
        let command = ["serve", input.path, "--decisions", log, "--state-dir", work.appendingPathComponent("state").path,
                       "--checkpoint-every", "0", "--clusters", "4", "--warmup", "200", "--lookahead", "100"]
        let first = try runProcess(TestPaths.prunerd, command)
        try #require(first.status == 0, "\(first.stderr)")

        let again = try runProcess(TestPaths.prunerd, command)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("input file:\(input.path) resumes after record 3000 (row 3000 of 3000"), "\(again.stderr)")
        #expect(!again.stderr.contains("not resumed"))
        #expect(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log))).count == 3000)

        var changed = try Data(contentsOf: input)
        changed[changed.count - 3] ^= 0x40
        try changed.write(to: input)
        let edited = try runProcess(TestPaths.prunerd, command)
        #expect(edited.status != 0)
        #expect(edited.stderr.contains("input file:\(input.path) changed since the checkpoint: its content differs"), "\(edited.stderr)")
        #expect(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log))).count == 3000, "a refused start leaves the log alone")
    }

    @Test("a connection's records held at the checkpoint and decided before a SIGKILL get no second line after the restart")
    func heldConnectionRecordsAreNotDecidedTwice() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let socketPath = work.appendingPathComponent("in.sock").path
        let log = work.appendingPathComponent("d.jsonl").path
        let command = ["serve", "--listen", "unix:\(socketPath)", "--decisions", log,
                       "--state-dir", work.appendingPathComponent("state").path, "--checkpoint-every", "1",
                       "--clusters", "4", "--warmup", "500", "--lookahead", "2000"]
        func records(_ prefix: String, _ range: Range<Int>) -> Data {
            var data = Data()
            for i in range { data += Handmade.prn1("\(prefix)\(i)", Handmade.randomVector(i, dimension: 16)) }
            return data
        }
        let first = try BackgroundDaemon(arguments: command)
        #expect(first.waitForLog("listening on"))
        // 3,000 records: 1,000 decided, 2,000 held by the look-ahead; a checkpoint then holds them.
        _ = try SocketClient.sendUnix(path: socketPath, data: records("a", 0..<3000))
        // 1,000 decided means all 3,000 had arrived: that checkpoint holds the other 2,000.
        #expect(first.waitForLog("1000 records decided"))
        // 2,000 more: they decide the held ones; then SIGKILL before the next checkpoint (1 s later).
        _ = try SocketClient.sendUnix(path: socketPath, data: records("b", 3000..<5000))
        waitUntil("a2999's line in \(log)", poll: 0.002) {
            (try? String(contentsOfFile: log, encoding: .utf8))?.contains("\"a2999\"") == true
        }
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()

        let sourcesBefore = Set(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log))).map(\.src))
        let second = try BackgroundDaemon(arguments: command)
        #expect(second.waitForLog("listening on"))
        _ = try SocketClient.sendUnix(path: socketPath, data: records("c", 0..<10))
        #expect(second.terminate() == 0)
        #expect(second.stderr.contains("lines of connections kept"), "\(second.stderr)")
        let lines = parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log)))
        var count: [String: Int] = [:]
        for line in lines { count[line.id, default: 0] += 1 }
        #expect(count.values.allSatisfy { $0 == 1 }, "\(count.filter { $0.value > 1 }.count) ids have two lines")
        #expect((0..<3000).allSatisfy { count["a\($0)"] == 1 }, "every record of the first connection has its line")
        // Connections after the restart are numbered on: (src, seq) still names one record.
        let newSources = Set(lines.filter { $0.id.hasPrefix("c") }.map(\.src))
        #expect(newSources.count == 1 && newSources.isDisjoint(with: sourcesBefore), "\(newSources) \(sourcesBefore)")
        #expect(lines.filter { $0.src == "unix:\(socketPath)#1" }.count == 3000)
    }
}
