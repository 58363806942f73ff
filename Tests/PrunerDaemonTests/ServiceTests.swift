// prunerd as a systemd service, driven by real tools: systemd-socket-activate
// passes the listening socket, a test-owned NOTIFY_SOCKET records every
// notification, and signals arrive while data flows.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("service", .serialized)
struct ServiceTests {
    static let engineOptions = ["--clusters", "4", "--warmup", "200", "--recompute-every", "100"]

    static func records(_ prefix: String, count: Int, offset: Int = 0) -> Data {
        SocketTests.records(prefix, count: count, offset: offset)
    }

    @Test("socket activation: systemd-socket-activate passes the listening socket with its name")
    func socketActivation() throws {
        let directory = TestPaths.temporaryDirectory()
        let socketPath = directory.appendingPathComponent("activated.sock").path
        let log = directory.appendingPathComponent("decisions.jsonl")
        let activator = Process()
        activator.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-socket-activate")
        activator.arguments = ["-l", socketPath, "--fdname=ingest", TestPaths.prunerd, "serve", "--decisions", log.path,
                               "--state-dir", directory.path] + Self.engineOptions
        let stderrPipe = Pipe()
        activator.standardError = stderrPipe
        try activator.run()
        waitUntil("systemd-socket-activate to create \(socketPath)", timeout: 4) { FileManager.default.fileExists(atPath: socketPath) }
        _ = try SocketClient.sendUnix(path: socketPath, data: Self.records("a", count: 400))
        _ = try SocketClient.sendUnix(path: socketPath, data: Self.records("b", count: 300, offset: 1000))
        // Kept: the activated daemon's status is not polled here (its stderr pipe is read only after
        // the exit, and fills), and its held records are decided only at the stop; give it time to read.
        usleep(500_000)
        kill(activator.processIdentifier, SIGTERM)   // systemd-socket-activate execs prunerd: same pid
        activator.waitUntilExit()
        let stderr = String(decoding: stderrPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(activator.terminationStatus == 0, "\(stderr)")
        #expect(stderr.contains("listening on socket passed by systemd (fd 3, ingest)"))
        let lines = parseDecisions(try Data(contentsOf: log))
        #expect(lines.count == 700)
        #expect(Set(lines.map(\.src)) == ["systemd:ingest#1", "systemd:ingest#2"])
    }

    @Test("notify protocol: READY once accepting, STATUS, WATCHDOG at half the interval, RELOADING, STOPPING",
          arguments: [false, true])
    func notifyProtocol(abstract: Bool) throws {
        let directory = TestPaths.temporaryDirectory()
        let notify = NotifyListener(directory: directory, abstract: abstract)
        let socketPath = directory.appendingPathComponent("in.sock").path
        let started = Date()
        let daemon = try BackgroundDaemon(
            arguments: ["serve", "--listen", "unix:\(socketPath)", "--decisions", directory.appendingPathComponent("d.jsonl").path,
                        "--state-dir", directory.path] + Self.engineOptions,
            environment: ["NOTIFY_SOCKET": notify.name, "WATCHDOG_USEC": "400000"])
        #expect(notify.waitFor("READY=1"))
        // READY=1 means accepting: a connection must succeed right away.
        _ = try SocketClient.sendUnix(path: socketPath, data: Self.records("n", count: 300))
        waitUntil("9 WATCHDOG=1 pings", timeout: 10) { notify.all.filter { $0.text == "WATCHDOG=1" }.count >= 9 }
        let watchdogs = notify.all.filter { $0.text == "WATCHDOG=1" }
        // 400 ms interval → a ping every 200 ms. The bar is 8 to 16 pings in 2.3 s (scheduling slack),
        // that is a mean gap of 144 to 288 ms.
        if watchdogs.count >= 2 {
            let span = watchdogs.last!.at.timeIntervalSince(watchdogs.first!.at)
            let mean = span / Double(watchdogs.count - 1)
            #expect(mean >= 2.3 / 16 && mean <= 2.3 / 8, "\(watchdogs.count) pings in \(span) s")
            let gaps = zip(watchdogs.dropFirst(), watchdogs).map { $0.at.timeIntervalSince($1.at) }
            #expect(gaps.max()! < 0.4, "a gap reached the whole watchdog interval: \(gaps)")
        }
        #expect(notify.waitFor("STATUS="))
        #expect(notify.all.contains { $0.text.hasPrefix("STATUS=") && $0.text.contains("records/s") && $0.text.contains("concepts") })
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(notify.waitFor("RELOADING=1"))
        let reloading = notify.all.first { $0.text.contains("RELOADING=1") }!.text
        #expect(reloading.contains("MONOTONIC_USEC="))
        #expect(daemon.terminate() == 0)
        #expect(notify.waitFor("STOPPING=1"))
        let order = notify.all.map(\.text)
        let readyIndex = order.firstIndex { $0.contains("READY=1") }!
        let reloadIndex = order.firstIndex { $0.contains("RELOADING=1") }!
        #expect(readyIndex < reloadIndex)
        #expect(order[reloadIndex...].contains { $0.contains("READY=1") }, "READY=1 again after reload")
        _ = started
    }

    @Test("SIGHUP during ingest: log reopened after rename, no line lost or torn")
    func sighupReopensLog() throws {
        let directory = TestPaths.temporaryDirectory()
        let socketPath = directory.appendingPathComponent("in.sock").path
        let log = directory.appendingPathComponent("decisions.jsonl")
        let rotated = directory.appendingPathComponent("decisions.jsonl.1")
        let daemon = try BackgroundDaemon(arguments: [
            "serve", "--listen", "unix:\(socketPath)", "--decisions", log.path, "--state-dir", directory.path,
        ] + Self.engineOptions)
        #expect(daemon.waitForLog("listening on unix:"))
        let clients = 4
        let perClient = 3000
        let group = DispatchGroup()
        for client in 0..<clients {
            group.enter()
            DispatchQueue.global().async {
                _ = try? SocketClient.sendUnix(path: socketPath, data: Self.records("h\(client)", count: perClient, offset: client * 5000))
                group.leave()
            }
        }
        // Rotate mid-ingest: once the daemon has read its first records (its default control socket).
        let control = directory.appendingPathComponent("control.sock").path
        waitUntil("status to report records read") { (daemonStatus(control: control)?["records_read"] as? Int ?? 0) > 0 }
        try FileManager.default.moveItem(at: log, to: rotated)   // logrotate's rename
        kill(daemon.process.processIdentifier, SIGHUP)
        group.wait()
        // SIGTERM decides what was read (held records included): wait until every record is read.
        waitUntil("status to report \(clients * perClient) records read") {
            (daemonStatus(control: control)?["records_read"] as? Int ?? 0) >= clients * perClient
        }
        #expect(daemon.terminate() == 0, "\(daemon.stderr)")
        #expect(daemon.stderr.contains("SIGHUP: reopening decision log"))
        let before = parseDecisions(try Data(contentsOf: rotated))   // parse fails on a torn line
        let after = parseDecisions(try Data(contentsOf: log))
        #expect(before.count + after.count == clients * perClient)
        #expect(!after.isEmpty, "lines after the SIGHUP went to the reopened file")
        let bySource = Dictionary(grouping: before + after, by: \.src)
        for (_, group) in bySource { #expect(group.map(\.seq) == Array(0..<perClient)) }
    }

    @Test("SIGTERM during ingest: every record read is decided, a checkpoint is written, exit 0")
    func sigtermDrains() throws {
        let directory = TestPaths.temporaryDirectory()
        let socketPath = directory.appendingPathComponent("in.sock").path
        let log = directory.appendingPathComponent("decisions.jsonl")
        let daemon = try BackgroundDaemon(arguments: [
            "serve", "--listen", "unix:\(socketPath)", "--decisions", log.path, "--state-dir", directory.path,
        ] + Self.engineOptions)
        #expect(daemon.waitForLog("listening on unix:"))
        let group = DispatchGroup()
        for client in 0..<3 {
            group.enter()
            DispatchQueue.global().async {
                _ = try? SocketClient.sendUnix(path: socketPath, data: Self.records("t\(client)", count: 20_000, offset: client * 30_000))
                group.leave()
            }
        }
        // Stop mid-stream: once the daemon has read a good part, but not all, of the data.
        let control = directory.appendingPathComponent("control.sock").path
        var read = 0
        waitUntil("status to report 5,000 records read", timeout: 10, poll: 0.025) {
            if let document = daemonStatus(control: control) { read = document["records_read"] as? Int ?? 0 }
            return read >= 5000
        }
        #expect(read >= 5000, "the daemon read \(read) records")
        let status = daemon.terminate()
        group.wait()
        #expect(status == 0, "\(daemon.stderr)")
        let lines = parseDecisions(try Data(contentsOf: log))
        let summary = daemon.stderr.split(separator: "\n").first { $0.hasPrefix("records: ") }
        #expect(summary?.hasPrefix("records: \(lines.count) ") == true, "summary \(summary ?? "none") vs \(lines.count) lines")
        for (_, group) in Dictionary(grouping: lines, by: \.src) {
            #expect(group.map(\.seq) == Array(0..<group.count))
        }
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("checkpoint.prnckpt").path))
        #expect(daemon.stderr.contains("checkpoint written"))
    }

    @Test("restart from checkpoint: a stream split across a restart decides like one run")
    func restartFromCheckpoint() throws {
        let part = 1500
        let first = Self.records("first", count: part)
        let second = Self.records("second", count: part, offset: 7000)
        func serve(_ directory: URL, _ parts: [Data], fresh: Bool) throws -> BackgroundDaemon {
            let socketPath = directory.appendingPathComponent("in.sock").path
            let log = directory.appendingPathComponent("d.jsonl").path
            let daemon = try BackgroundDaemon(arguments: [
                "serve", "--listen", "unix:\(socketPath)", "--decisions", log,
                "--state-dir", directory.path,
            // Look-ahead 0: records held for look-ahead are decided at stop with what is known then.
            ] + (fresh ? ["--fresh"] : []) + Self.engineOptions + ["--lookahead", "0"])
            #expect(daemon.waitForLog("listening on unix:"))
            for data in parts {
                // Look-ahead 0 decides each record on arrival: the part is done when its lines are in.
                let lines = countLines(log) + part
                _ = try SocketClient.sendUnix(path: socketPath, data: data)
                waitUntil("\(lines) lines in \(log)") { countLines(log) >= lines }
            }
            return daemon
        }
        // One run over both parts.
        let whole = TestPaths.temporaryDirectory()
        #expect(try serve(whole, [first, second], fresh: true).terminate() == 0)
        // The same parts across a restart.
        let split = TestPaths.temporaryDirectory()
        #expect(try serve(split, [first], fresh: true).terminate() == 0)
        let resumed = try serve(split, [second], fresh: false)
        #expect(resumed.terminate() == 0)
        #expect(resumed.stderr.contains("restored checkpoint"))
        let a = parseDecisions(try Data(contentsOf: whole.appendingPathComponent("d.jsonl")))
        let b = parseDecisions(try Data(contentsOf: split.appendingPathComponent("d.jsonl")))
        #expect(a.count == 3000 && b.count == 3000)
        let key = { (line: DecisionLine) in "\(line.id)|\(line.decision)|\(line.cluster ?? -1)|\(line.threshold ?? -1)" }
        #expect(a.map(key) == b.map(key))
    }

    @Test("a corrupted checkpoint is reported, set aside and never half-loaded")
    func corruptedCheckpoint() throws {
        let directory = TestPaths.temporaryDirectory()
        let checkpoint = directory.appendingPathComponent("checkpoint.prnckpt")
        try Data("PRNCKPT garbage that is not a checkpoint".utf8).write(to: checkpoint)
        let result = try runProcess(TestPaths.prunerd, ["serve", "--checkpoint-every", "0", "--state-dir", directory.path,
                                                         "--decisions", "-"] + Self.engineOptions,
                                    input: Self.records("c", count: 300))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("not restored"))
        #expect(FileManager.default.fileExists(atPath: checkpoint.path + ".rejected"))
        #expect(parseDecisions(result.stdout).count == 300)
    }

    @Test("a checkpoint of other --clusters is set aside with a line naming the option")
    func incompatibleCheckpointNamesTheOption() throws {
        let directory = TestPaths.temporaryDirectory()
        func run(_ clusters: String) throws -> ProcessResult {
            try runProcess(TestPaths.prunerd, ["serve", "--checkpoint-every", "0", "--state-dir", directory.path,
                                               "--decisions", "-"] + Self.engineOptions + ["--clusters", clusters],
                           input: Self.records("c", count: 300))
        }
        #expect(try run("4").status == 0)
        let result = try run("5")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("not restored: checkpoint is incompatible with the running configuration: "
                                       + "--clusters 4 in checkpoint, 5 configured"), "\(result.stderr)")
        #expect(parseDecisions(result.stdout).count == 300)
    }

    @Test("status over the control socket and Prometheus metrics over HTTP")
    func statusAndMetrics() throws {
        let directory = TestPaths.temporaryDirectory()
        let socketPath = directory.appendingPathComponent("in.sock").path
        let control = directory.appendingPathComponent("control.sock").path
        let port = SocketClient.freePort()
        let daemon = try BackgroundDaemon(arguments: [
            "serve", "--listen", "unix:\(socketPath)", "--decisions", directory.appendingPathComponent("d.jsonl").path,
            "--state-dir", directory.path, "--control", control, "--metrics", "tcp:127.0.0.1:\(port)",
        ] + Self.engineOptions + ["--lookahead", "0"])
        #expect(daemon.waitForLog("metrics on"))
        var bad = Self.records("s", count: 500)
        bad += Handmade.prn1("wrong-dimension", Handmade.vector(1, dimension: 5))
        _ = try SocketClient.sendUnix(path: socketPath, data: bad)
        var document: [String: Any] = [:]
        waitUntil("status to report 501 records") {
            document = daemonStatus(control: control) ?? [:]
            return document["records"] as? Int == 501
        }
        #expect(document["records"] as? Int == 501)
        #expect((document["rejected_by_reason"] as? [String: Int])?["bad_dimension"] == 1)
        let concepts = document["concepts"] as? [[String: Any]] ?? []
        #expect(concepts.count == 4)
        // `update` auto has chosen by now (warm-up over); the records are not concept-ordered.
        #expect(["frozen", "online"].contains(document["centroid_update"] as? String ?? ""), "\(document)")
        for key in ["size", "d_intra", "d_inter", "complexity", "quota", "threshold", "keep_rate"] {
            #expect(concepts.first?[key] != nil, "concept field \(key)")
        }
        let http = try SocketClient.sendTCP(port: port, data: Data("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8), readReply: true)
        let text = String(decoding: http, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200 OK"))
        #expect(text.contains("prunerd_records_total{decision=\"reject\"} 1"))
        #expect(text.contains("# TYPE prunerd_records_total counter"))
        #expect(daemon.terminate() == 0)
    }
}
