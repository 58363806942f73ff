// Backpressure told to senders: a reply-mode client that opens with the opt-in
// line gets flow lines (pause, resume) between its verdicts; a client that did
// not gets its verdicts exactly as before; `prunerd status` shows the pause.
// Forced with a decision log on a FIFO drained slowly (as LoadTests does).
import Foundation
import Testing

@Suite("flow lines")
struct FlowLinesTests {
    @Test("a decision log drained slowly: the opted-in client is told pause then resume, the other's verdicts are unchanged, status shows the pause")
    func pauseAndResumeAreTold() throws {
        let perClient = 40_000, dimension = 16
        let directory = TestPaths.temporaryDirectory()
        // About 16 MB of lines at 1.5 MB/s: twice the log's 8 MiB backlog limit, so reading
        // must pause for the disk (or for the engine, should it fall behind first).
        let reader = SlowFIFOReader(directory: directory, bytesPerSecond: 1_500_000)
        let daemon = try ListeningDaemon(decisions: reader.fifo,
                                         arguments: LoadTests.engine + ["--reply", "--lookahead", "0"])
        #expect(daemon.waitUntilListening())
        let control = daemon.directory.appendingPathComponent("control.sock").path
        let opted = Data("{\"flow\":\"on\"}\n".utf8) + LoadClients.records(client: 0, count: perClient, dimension: dimension)
        let plain = LoadClients.records(client: 1, count: perClient, dimension: dimension)

        let replies = ReplyBox()
        let group = DispatchGroup()
        for (index, data) in [opted, plain].enumerated() {
            group.enter()
            Thread.detachNewThread {
                let reply = (try? SocketClient.sendUnix(path: daemon.socketPath, data: data, readReply: true)) ?? Data()
                replies.set(index, reply)
                group.leave()
            }
        }
        // While they send: the status document shows reading paused, with a reason and its inputs.
        var pausedStatus: [String: Any]?
        _ = pollUntil(timeout: 120, poll: 0.1) {
            if let reading = daemonStatus(control: control)?["reading"] as? [String: Any], reading["paused"] as? Bool == true {
                pausedStatus = reading
                return true
            }
            return group.wait(timeout: .now()) == .success
        }
        #expect(group.wait(timeout: .now() + 240) == .success, "clients still waiting for their replies")
        #expect(daemon.daemon.terminate() == 0, "\(daemon.daemon.stderr)")
        #expect(reader.waitForEnd())

        let status = try #require(pausedStatus, "status never showed reading paused")
        #expect(["engine", "log"].contains(status["reason"] as? String ?? ""), "\(status)")
        #expect((status["paused_for_seconds"] as? Double ?? -1) >= 0)
        let inputs = status["inputs"] as? [[String: Any]] ?? []
        #expect(inputs.contains { $0["paused"] as? Bool == true }, "\(status)")
        #expect(inputs.contains { $0["flow_lines"] as? Bool == true } || inputs.count < 2, "\(status)")

        // The client that opted in: the acknowledgement first, then pause/resume pairs between its verdicts.
        let told = Self.lines(replies.get(0))
        #expect(told.first?["flow"] as? String == "on")
        let flow = told.compactMap { $0["flow"] as? String }
        #expect(flow.contains("pause"), "no pause told: \(flow.prefix(10))")
        #expect(Array(flow.dropFirst()) == Array(repeating: ["pause", "resume"], count: (flow.count - 1) / 2).flatMap { $0 },
                "flow lines not in pause/resume pairs ending with a resume: \(flow.prefix(20))")
        for pause in told where pause["flow"] as? String == "pause" {
            #expect(["engine", "log"].contains(pause["reason"] as? String ?? ""), "\(pause)")
            #expect(pause["queued_records"] is Int && pause["queued_log_bytes"] is Int, "\(pause)")
        }
        let pausedMs = told.compactMap { $0["flow"] as? String == "resume" ? $0["paused_ms"] as? Int : nil }
        #expect(pausedMs.reduce(0, +) > 0, "resumes told no paused time: \(pausedMs.prefix(10))")
        let toldVerdicts = told.filter { $0["flow"] == nil }
        #expect(toldVerdicts.map { $0["id"] as? String ?? "" } == (0..<perClient).map { "c0-\($0)" })

        // The client that did not: verdict lines only, one per record, in order, as before.
        let plainLines = Self.lines(replies.get(1))
        #expect(plainLines.allSatisfy { $0["flow"] == nil && $0["decision"] is String })
        #expect(plainLines.map { $0["id"] as? String ?? "" } == (0..<perClient).map { "c1-\($0)" })

        // The log holds verdicts only: flow lines go to the client, never to the log.
        let check = ExactlyOnce(log: try Data(contentsOf: reader.output),
                                expected: (0..<2).flatMap { client in (0..<perClient).map { "c\(client)-\($0)" } })
        #expect(check.holds, "\(check.summary)")
    }

    @Test("the opt-in line split across reads is still recognised; bytes that only begin like it are records")
    func optInAcrossReads() throws {
        let daemon = try ListeningDaemon(arguments: ["--clusters", "2", "--warmup", "20", "--recompute-every", "1000",
                                                     "--reply", "--lookahead", "0"])
        #expect(daemon.waitUntilListening())
        // A JSON record whose first bytes match the opt-in line's: decided as a record, no flow lines.
        // (Sent alongside: its verdict comes once the other client's records end the warm-up.)
        let lookalike = Data("{\"flow\":1,\"id\":\"j-0\",\"vector\":[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}\n".utf8)
        let replies = ReplyBox()
        let group = DispatchGroup()
        group.enter()
        Thread.detachNewThread {
            replies.set(0, (try? SocketClient.sendUnix(path: daemon.socketPath, data: lookalike, readReply: true)) ?? Data())
            group.leave()
        }
        // The opt-in line in three writes, then records: acknowledged, then one verdict per record.
        let answer = try SocketClient.sendUnixInPieces(path: daemon.socketPath, pieces: [
            Data("{\"fl".utf8), Data("ow\":\"o".utf8),
            Data("n\"}\n".utf8) + LoadClients.records(client: 2, count: 50, dimension: 16),
        ])
        let told = Self.lines(answer)
        #expect(told.first?["flow"] as? String == "on", "\(told.prefix(3))")
        #expect(told.filter { $0["flow"] == nil }.map { $0["id"] as? String ?? "" } == (0..<50).map { "c2-\($0)" })
        #expect(group.wait(timeout: .now() + 60) == .success)
        let lines = Self.lines(replies.get(0))
        #expect(lines.count == 1 && lines.first?["id"] as? String == "j-0" && lines.first?["flow"] == nil, "\(lines)")
        #expect(daemon.daemon.terminate() == 0, "\(daemon.daemon.stderr)")
    }

    @Test("a client that reads its verdicts late: told of a pause for replies, then of the resume, every verdict after")
    func pauseForReplies() throws {
        let daemon = try ListeningDaemon(arguments: LoadTests.engine + ["--reply", "--lookahead", "0", "--max-reply-backlog", "1048576"])
        #expect(daemon.waitUntilListening())
        let client = try HostileWireTests.Client(unix: daemon.socketPath)
        let records = Data("{\"flow\":\"on\"}\n".utf8) + LoadClients.records(client: 3, count: 20_000, dimension: 16)
        let sent = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            client.send(records)
            client.halfClose()
            sent.signal()
        }
        // It reads nothing until its reading has paused for its ~1 MiB of unread verdicts.
        #expect(daemon.daemon.waitForLog("reply bytes not read by the client (--max-reply-backlog 1048576)"))
        // Until an engine pause around the hold has ended and the replies are the reason (status shows it).
        let control = daemon.directory.appendingPathComponent("control.sock").path
        #expect(pollUntil(timeout: 60, poll: 0.05) {
            let inputs = (daemonStatus(control: control)?["reading"] as? [String: Any])?["inputs"] as? [[String: Any]] ?? []
            return inputs.contains { $0["reason"] as? String == "replies" && $0["flow_lines"] as? Bool == true }
        }, "status never showed the connection paused for its replies: \(daemonStatus(control: control).map { "\($0["reading"] ?? "")" } ?? "") \(daemon.daemon.stderr)")
        let told = Self.lines(client.readAll())
        #expect(sent.wait(timeout: .now() + 60) == .success)
        #expect(daemon.daemon.terminate() == 0, "\(daemon.daemon.stderr)")
        let flow = told.filter { $0["flow"] != nil }
        let first = try #require(flow.first { $0["flow"] as? String == "pause" && $0["reason"] as? String == "replies" },
                                 "no pause for replies told: \(flow.prefix(6))")
        #expect((first["reply_backlog_bytes"] as? Int ?? 0) >= 1_048_576, "\(first)")
        #expect(first["queued_records"] == nil, "the queues are not this pause's reason: \(first)")
        #expect(flow.last?["flow"] as? String == "resume", "\(flow.suffix(4))")
        #expect(told.filter { $0["flow"] == nil }.map { $0["id"] as? String ?? "" } == (0..<20_000).map { "c3-\($0)" })
    }

    static func lines(_ data: Data) -> [[String: Any]] {
        data.split(separator: UInt8(ascii: "\n")).compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0))) as? [String: Any]
        }
    }

    private final class ReplyBox: @unchecked Sendable {
        private let lock = NSLock()
        private var replies: [Int: Data] = [:]
        func set(_ index: Int, _ data: Data) { lock.lock(); replies[index] = data; lock.unlock() }
        func get(_ index: Int) -> Data { lock.lock(); defer { lock.unlock() }; return replies[index] ?? Data() }
    }
}
