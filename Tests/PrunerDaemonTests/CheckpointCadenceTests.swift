// Checkpoints are serialised and written off the loop thread: while a k = 500
// checkpoint (tens of MB) is written, the loop's watchdog pings keep their
// cadence and `prunerd status` answers.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("checkpoint off the loop", .serialized)
struct CheckpointCadenceTests {
    /// `checkpoint written: PATH (BYTES bytes, N records decided, S s off the loop)` lines, with the time each ended.
    static func checkpoints(in log: String) -> [(end: Date, bytes: Int, seconds: Double)] {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return log.split(separator: "\n").compactMap { line -> (Date, Int, Double)? in
            guard line.contains("checkpoint written:"), let space = line.firstIndex(of: " "),
                  let end = formatter.date(from: String(line[..<space])),
                  let open = line.lastIndex(of: "(") else { return nil }
            let fields = line[line.index(after: open)...].split(separator: " ")
            guard fields.count >= 8, let bytes = Int(fields[0]), let seconds = Double(fields[fields.count - 5]) else { return nil }
            return (end, bytes, seconds)
        }
    }

    @Test("during a k = 500 checkpoint the watchdog pings keep their 100 ms cadence and status answers")
    func watchdogKeepsCadence() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let notify = NotifyListener(directory: directory, abstract: true)
        let socketPath = directory.appendingPathComponent("in.sock").path
        let control = directory.appendingPathComponent("control.sock").path
        let daemon = try BackgroundDaemon(
            arguments: ["serve", "--listen", "unix:\(socketPath)", "--decisions", directory.appendingPathComponent("d.jsonl").path,
                        "--state-dir", directory.path, "--control", control, "--checkpoint-every", "0.5",
                        "--clusters", "500", "--warmup", "5000", "--lookahead", "0"],
            environment: ["NOTIFY_SOCKET": notify.name, "WATCHDOG_USEC": "200000"])
        #expect(notify.waitFor("READY=1"))
        var records = Data()
        for i in 0..<6000 { records += Handmade.prn1("c\(i)", Handmade.randomVector(i, dimension: 384)) }
        _ = try SocketClient.sendUnix(path: socketPath, data: records)
        // Wait for two checkpoints holding the k = 500 engine (tens of MB each).
        var answers: [(asked: Date, answered: Date)] = []
        // Meanwhile ask for status every 50 ms: each answer's latency is measured below.
        waitUntil("two checkpoints over 10 MB", timeout: 120, poll: 0.05) {
            if Self.checkpoints(in: daemon.stderr).filter({ $0.bytes > 10_000_000 }).count >= 2 { return true }
            let asked = Date()
            if let reply = try? runProcess(TestPaths.prunerd, ["status", "--control", control]), reply.status == 0 {
                answers.append((asked, Date()))
            }
            return false
        }
        #expect(daemon.terminate() == 0)
        let big = Self.checkpoints(in: daemon.stderr).filter { $0.bytes > 10_000_000 }
        try #require(big.count >= 2, "\(daemon.stderr)")
        let pings = notify.all.filter { $0.text == "WATCHDOG=1" }.map(\.at)
        for checkpoint in big {
            let start = checkpoint.end.addingTimeInterval(-checkpoint.seconds)
            let during = [start] + pings.filter { $0 > start && $0 < checkpoint.end } + [checkpoint.end]
            let gaps = zip(during.dropFirst(), during).map { $0.timeIntervalSince($1) }
            // A ping every 100 ms; on this shared machine allow 3.5 intervals. Written on the loop
            // thread, a checkpoint silences the pings for its whole duration.
            #expect(gaps.max()! < 0.35, "\(checkpoint.bytes)-byte checkpoint took \(checkpoint.seconds) s; ping gaps \(gaps)")
        }
        // A status asked and answered inside a checkpoint's span was not held back by it.
        let answeredDuringCheckpoint = answers.contains { answer in
            big.contains { $0.end.addingTimeInterval(-$0.seconds) < answer.asked && answer.answered < $0.end }
        }
        if big.contains(where: { $0.seconds > 1 }) {
            #expect(answeredDuringCheckpoint, "no status answer arrived while a checkpoint was being written")
        }
    }
}
