// Bounded waiting end to end: records held by the look-ahead (or the warm-up)
// of a stream that goes quiet are decided within --max-hold, and the daemon
// goes on deciding what comes after.
import Foundation
import Testing

@Suite("bounded waiting")
struct HoldTests {
    @Test("5,000 records then quiet: all decided within --max-hold + margin, the daemon running; again after more input")
    func quietStreamIsDecided() throws {
        // Default look-ahead (20,000) and a warm-up larger than the stream: without
        // --max-hold nothing of it would be decided until more input or the stop.
        let daemon = try ListeningDaemon(arguments: ["--clusters", "4", "--max-hold", "1"])
        #expect(daemon.waitUntilListening())
        let client = try HostileWireTests.Client(unix: daemon.socketPath)   // kept open: the stream goes quiet, not away
        let sentAt = Date()
        client.send(LoadClients.records(client: 0, count: 5_000, dimension: 16))
        // Margin for a loaded 2-core machine running a debug build.
        let first = waitForLines(in: daemon.logPath, atLeast: 5_000, stall: 20)
        let waited = Date().timeIntervalSince(sentAt)
        print("[measured] 5,000 held records decided \(String(format: "%.2f", waited)) s after sending (--max-hold 1)")
        #expect(first == 5_000)
        #expect(waited < 1 + 15)
        #expect(daemon.daemon.process.isRunning)
        // More input on the same connection, quiet again: decided the same way.
        client.send(LoadClients.records(client: 1, count: 300, dimension: 16))
        #expect(waitForLines(in: daemon.logPath, atLeast: 5_300, stall: 20) == 5_300)
        client.halfClose()
        #expect(daemon.daemon.terminate() == 0, "\(daemon.daemon.stderr)")
        let log = try Data(contentsOf: URL(fileURLWithPath: daemon.logPath))
        let expected = (0..<5_000).map { "c0-\($0)" } + (0..<300).map { "c1-\($0)" }
        let check = ExactlyOnce(log: log, expected: expected)
        #expect(check.holds, "\(check.summary)")
        let lines = parseDecisions(log)
        #expect(lines.filter { $0.id.hasPrefix("c0-") }.map(\.seq) == Array(0..<5_000))
    }

    @Test("--max-hold 0 keeps the old behaviour: a quiet stream's held records wait for the stop")
    func unboundedHoldWhenOff() throws {
        let daemon = try ListeningDaemon(arguments: ["--clusters", "4", "--max-hold", "0"])
        #expect(daemon.waitUntilListening())
        let client = try HostileWireTests.Client(unix: daemon.socketPath)
        client.send(LoadClients.records(client: 0, count: 2_000, dimension: 16))
        usleep(2_500_000)   // nothing to wait on: the point is that nothing happens
        #expect(countLines(daemon.logPath) == 0)
        client.halfClose()
        #expect(daemon.daemon.terminate() == 0)
        #expect(countLines(daemon.logPath) == 2_000)
    }
}
