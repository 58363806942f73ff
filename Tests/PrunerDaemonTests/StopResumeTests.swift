// An orderly stop (SIGTERM) at random moments, each followed by the same
// command again: exactly one whole line per record either way. By default the
// stop decides the held (look-ahead, warm-up) records against the quotas of that
// moment, so the kept set is not the uninterrupted run's; with
// --suspend-on-stop the last checkpoint holds them undecided and the restart
// decides them as the uninterrupted run does: the same kept set, every decision
// equal.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("stop and resume", .serialized)
struct StopResumeTests {
    @Test("SIGTERM at 12 random moments, restarted with the same command: one whole line per record; with --suspend-on-stop the uninterrupted kept set",
          arguments: [false, true])
    func stopLoop(suspend: Bool) throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let options = CrashResumeTests.engine + ["--update", "auto"]
        let input = CrashResumeTests.input
        let reference = work.appendingPathComponent("reference.jsonl").path
        let uninterrupted = try runProcess(TestPaths.prunerd, ["serve", input.path, "--decisions", reference] + options)
        try #require(uninterrupted.status == 0, "\(uninterrupted.stderr)")

        let log = work.appendingPathComponent("decisions.jsonl").path
        let command = ["serve", input.path, "--decisions", log, "--state-dir", work.appendingPathComponent("state").path,
                       "--checkpoint-every", "0.1"] + options + (suspend ? ["--suspend-on-stop"] : [])
        let tally = try RestartLoop.run(command, log: log, signal: SIGTERM, stops: 12, seed: suspend ? 5 : 4, work: work)
        #expect(tally.stops >= 10, "\(tally.stops) stops landed in \(tally.runs) runs")
        let final = try runProcess(TestPaths.prunerd, command)
        #expect(final.status == 0, "\(final.stderr)")
        #expect(tally.resumed >= 3, "only \(tally.resumed) runs resumed from a recorded position")
        if suspend {
            let suspended = (1...tally.runs).filter { run in
                let text = (try? String(contentsOf: work.appendingPathComponent("run\(run).txt"), encoding: .utf8)) ?? ""
                return text.contains("records held undecided go into the checkpoint")
            }
            #expect(suspended.count >= 3, "only \(suspended.count) runs were suspended")
        }

        let verdicts = try RestartLoop.exactlyOnce(log: log, records: CrashResumeTests.records)
        let (keptSet, decisions) = try RestartLoop.differences(verdicts, reference: reference)
        print("[measured] SIGTERM loop\(suspend ? " --suspend-on-stop" : ""): \(tally.stops) stops in \(tally.runs) runs, "
            + "kept set differs from the uninterrupted run's in \(keptSet) ids, \(decisions) decisions differ")
        if suspend { try RestartLoop.expectUninterrupted(verdicts, reference: reference) }
    }

    @Test("--suspend-on-stop needs checkpoints and is refused with --cluster; --check-config and the config file show it")
    func suspendOnStopOption() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let input = work.appendingPathComponent("in.prn1")
        try Handmade.prn1("r0", Handmade.randomVector(0, dimension: 16)).write(to: input)
        let without = try runProcess(TestPaths.prunerd, ["serve", input.path, "--decisions", work.appendingPathComponent("d.jsonl").path,
                                                         "--suspend-on-stop"])
        #expect(without.status != 0)
        #expect(without.stderr.contains("--suspend-on-stop needs checkpoints"), "\(without.stderr)")
        let config = work.appendingPathComponent("p.toml")
        try "suspend-on-stop = true\ncheckpoint-every = 5\n".write(to: config, atomically: true, encoding: .utf8)
        let shown = try runProcess(TestPaths.prunerd, ["serve", "--config", config.path, "--check-config"])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(String(decoding: shown.stdout, as: UTF8.self).contains("suspend-on-stop = true"))
        let clustered = try runProcess(TestPaths.prunerd, ["serve", input.path, "--decisions", work.appendingPathComponent("c.jsonl").path,
                                                           "--state-dir", work.appendingPathComponent("state").path, "--checkpoint-every", "1",
                                                           "--cluster", "redis://127.0.0.1:1/c", "--shard-id", "s0", "--suspend-on-stop"])
        #expect(clustered.status != 0)
        #expect(clustered.stderr.contains("--suspend-on-stop is not for --cluster"), "\(clustered.stderr)")
    }

    @Test("SIGTERM with --suspend-on-stop inside the warm-up: nothing decided, exit 0; the restart decides every record once")
    func suspendInsideWarmup() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let socketPath = work.appendingPathComponent("in.sock").path
        let log = work.appendingPathComponent("d.jsonl").path
        let command = ["serve", "--listen", "unix:\(socketPath)", "--decisions", log,
                       "--state-dir", work.appendingPathComponent("state").path, "--checkpoint-every", "60",
                       "--clusters", "4", "--warmup", "500", "--lookahead", "100", "--max-hold", "0", "--log-level", "debug",
                       "--suspend-on-stop"]
        func records(_ range: Range<Int>) -> Data {
            var data = Data()
            for i in range { data += Handmade.prn1("r\(i)", Handmade.randomVector(i, dimension: 16)) }
            return data
        }
        let first = try BackgroundDaemon(arguments: command)
        #expect(first.waitForLog("listening on"))
        _ = try SocketClient.sendUnix(path: socketPath, data: records(0..<300))
        // Read to its end: the 300 records are in the engine's warm-up or on their way to it.
        #expect(first.waitForLog("reached EOF after 300 records"), "\(first.stderr)")
        #expect(first.terminate() == 0, "\(first.stderr)")
        #expect(first.stderr.contains("the 300 records held undecided go into the checkpoint"), "\(first.stderr)")
        #expect(parseDecisions((try? Data(contentsOf: URL(fileURLWithPath: log))) ?? Data()).isEmpty)

        let second = try BackgroundDaemon(arguments: command.filter { $0 != "--suspend-on-stop" })
        #expect(second.waitForLog("listening on"))
        _ = try SocketClient.sendUnix(path: socketPath, data: records(300..<800))
        #expect(second.terminate() == 0, "\(second.stderr)")
        let lines = parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log)))
        #expect(lines.count == 800 && Set(lines.map(\.id)).count == 800, "\(lines.count) lines")
    }
}
