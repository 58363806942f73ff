// Listeners end to end: a real unix socket and a real TCP socket with several
// concurrent clients feeding the same concepts; a bad client does not disturb
// the others; reply mode answers each record on its connection.
import Foundation
import Testing

@Suite("listeners")
struct SocketTests {
    static func records(_ prefix: String, count: Int, offset: Int) -> Data {
        var data = Data()
        for i in 0..<count { data += Handmade.prn1("\(prefix)-\(i)", Handmade.vector(offset + i, dimension: 16)) }
        return data
    }

    @Test("unix and TCP listeners with concurrent clients: one line per record, per-connection order")
    func concurrentClients() throws {
        let directory = TestPaths.temporaryDirectory()
        let socketPath = directory.appendingPathComponent("in.sock").path
        let log = directory.appendingPathComponent("decisions.jsonl")
        let port = SocketClient.freePort()
        let daemon = try BackgroundDaemon(arguments: [
            "serve", "--listen", "unix:\(socketPath)", "--listen", "tcp:127.0.0.1:\(port)",
            "--decisions", log.path, "--clusters", "4", "--warmup", "200", "--recompute-every", "100",
            // Its own state directory: the default one's control socket is another running test's.
            "--state-dir", directory.appendingPathComponent("state").path,
        ])
        #expect(daemon.waitForLog("listening on tcp:127.0.0.1:\(port)"))
        let clients = 6
        let perClient = 700
        DispatchQueue.concurrentPerform(iterations: clients) { client in
            let data = Self.records("c\(client)", count: perClient, offset: client * 10_000)
            // Stagger: compressed clients go through the LZ4 path too.
            if client % 2 == 0 {
                _ = try? SocketClient.sendUnix(path: socketPath, data: data)
            } else {
                _ = try? SocketClient.sendTCP(port: port, data: data)
            }
        }
        // A client that sends garbage must not disturb the others or the daemon.
        _ = try SocketClient.sendUnix(path: socketPath, data: Data("PRN1\u{FF}\u{FF}\u{FF}\u{7F}".utf8) + Data(count: 64))
        #expect(daemon.waitForLog("closed: record error"))
        #expect(daemon.process.isRunning)
        // One more good client after the bad one.
        _ = try SocketClient.sendTCP(port: port, data: Self.records("late", count: 50, offset: 99_000))
        // SIGTERM decides what was read: wait until the late client's records are.
        let control = directory.appendingPathComponent("state/control.sock").path
        waitUntil("status to report \(clients * perClient + 50) records read") {
            (daemonStatus(control: control)?["records_read"] as? Int ?? 0) >= clients * perClient + 50
        }
        #expect(daemon.terminate() == 0, "\(daemon.stderr)")
        let lines = parseDecisions(try Data(contentsOf: log))
        #expect(lines.count == clients * perClient + 50)
        let bySource = Dictionary(grouping: lines, by: \.src)
        #expect(bySource.count == clients + 1)
        for (source, group) in bySource {
            #expect(group.map(\.seq) == Array(0..<group.count), "\(source) out of order")
            #expect(source.hasPrefix("unix:\(socketPath)#") || source.hasPrefix("tcp:127.0.0.1:\(port)#"))
        }
        #expect(lines.allSatisfy { $0.decision != "reject" })
    }

    @Test("reply mode writes one decision line back per record, in order, then closes")
    func replyMode() throws {
        let directory = TestPaths.temporaryDirectory()
        let socketPath = directory.appendingPathComponent("reply.sock").path
        let log = directory.appendingPathComponent("decisions.jsonl")
        let daemon = try BackgroundDaemon(arguments: [
            "serve", "--listen", "unix:\(socketPath)", "--reply", "--decisions", log.path,
            "--clusters", "4", "--warmup", "100", "--recompute-every", "100",
            "--state-dir", directory.appendingPathComponent("state").path,
            // Replies need decisions on arrival: a look-ahead would hold them for later records.
            "--lookahead", "0",
        ])
        #expect(daemon.waitForLog("listening on unix:\(socketPath)"))
        let reply = try SocketClient.sendUnix(path: socketPath, data: Self.records("r", count: 500, offset: 0), readReply: true)
        let replies = parseDecisions(reply)
        #expect(replies.count == 500)
        #expect(replies.map(\.id) == (0..<500).map { "r-\($0)" })
        #expect(daemon.terminate() == 0)
        let logged = parseDecisions(try Data(contentsOf: log))
        #expect(logged.map(\.verdictKey) == replies.map(\.verdictKey))
    }
}
