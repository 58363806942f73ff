// Hostile and mistaken clients on real unix and TCP sockets, each next to a
// well-behaved client whose decisions must all arrive: the daemon logs the
// right line, stays up, decides every good record once, and its memory stays
// under the bound stated in docs/reliability.md.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("hostile input on the wire")
struct HostileWireTests {
    static let engine = ["--clusters", "4", "--warmup", "500", "--recompute-every", "500", "--log-level", "debug"]
    /// The bound asserted for every hostile case (a debug build; docs/reliability.md gives the arithmetic).
    static let rssBoundKiB = 256 * 1024

    /// A raw client socket (blocking), connected to a unix path or 127.0.0.1:port.
    final class Client: @unchecked Sendable {
        let fd: Int32

        init(unix path: String) throws {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
            }
            let status = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard status == 0 else { Glibc.close(fd); throw POSIXError(.ECONNREFUSED) }
        }

        init(tcpPort port: UInt16) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let status = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard status == 0 else { Glibc.close(fd); throw POSIXError(.ECONNREFUSED) }
        }

        /// Sends everything it can; false once the daemon closed the connection.
        @discardableResult
        func send(_ data: Data) -> Bool {
            data.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let sent = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                    if sent <= 0 { return false }
                    offset += sent
                }
                return true
            }
        }

        func halfClose() { shutdown(fd, Int32(SHUT_WR)) }

        /// Reads to EOF (or error).
        func readAll() -> Data {
            var result = Data()
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(fd, &buffer, buffer.count)
                if count <= 0 { break }
                result.append(contentsOf: buffer[0..<count])
            }
            return result
        }

        deinit { Glibc.close(fd) }
    }

    @Test("4 GiB length, 100 MB JSON line, 1 MiB of random bytes, a truncated record, a silent client: logged, contained",
          arguments: [false, true])
    func hostileClients(swapped: Bool) throws {
        let port = SocketClient.freePort()
        let daemon = try ListeningDaemon(arguments: Self.engine + ["--listen", "tcp:127.0.0.1:\(port)", "--lookahead", "0"])
        #expect(daemon.waitUntilListening())
        #expect(daemon.daemon.waitForLog("listening on tcp:127.0.0.1:\(port)"))
        // Each hostile client on its transport, or on the other one when swapped: every case goes
        // through both a unix and a TCP socket.
        func connect(tcp: Bool) throws -> Client {
            tcp != swapped ? try Client(tcpPort: port) : try Client(unix: daemon.socketPath)
        }
        let pid = daemon.daemon.process.processIdentifier
        // The well-behaved client starts first and keeps sending throughout.
        let good = LoadClients.records(client: 0, count: 6_000, dimension: 16)
        let goodDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let client = try! Client(unix: daemon.socketPath)
            var offset = 0
            while offset < good.count {   // in slices, so the hostile clients run while it sends
                let end = min(good.count, offset + 20_000)
                client.send(good[offset..<end])
                offset = end
                usleep(2_000)
            }
            client.halfClose()
            _ = client.readAll()
            goodDone.signal()
        }
        // A client that connects and sends nothing, kept open to the end.
        let silent = try connect(tcp: false)
        // 1. A PRN1 header claiming 4 GiB − 1 bytes (TCP; unix when swapped, and so on).
        let huge = try connect(tcp: true)
        huge.send(Data("PRN1".utf8) + Data([0xFF, 0xFF, 0xFF, 0xFF]) + Data(count: 4096))
        huge.halfClose()
        _ = huge.readAll()
        #expect(daemon.daemon.waitForLog("PRN1 record length 4294967295 exceeds the maximum record size 1048576"))
        // 2. A 100 MB JSON line without a newline (unix): one too_large reject, nothing buffered.
        let longLine = try connect(tcp: false)
        longLine.send(Data("{\"id\":\"long\",\"embedding\":[".utf8))
        let filler = Data(String(repeating: "0.5,", count: 1 << 18).utf8)   // 1 MiB
        for _ in 0..<100 { longLine.send(filler) }
        longLine.halfClose()
        _ = longLine.readAll()
        // 3. 1 MiB of random bytes (TCP), starting with a byte no format starts with.
        var generator = SystemRandomNumberGenerator()
        var noise = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        noise[0] = 0xEE
        let random = try connect(tcp: true)
        random.send(noise)
        random.halfClose()
        _ = random.readAll()
        // 4. A stream that stops in the middle of its second record (unix).
        let truncated = try connect(tcp: false)
        let two = Handmade.prn1("t0", Handmade.randomVector(1, dimension: 16)) + Handmade.prn1("t1", Handmade.randomVector(2, dimension: 16))
        truncated.send(two.prefix(two.count - 30))
        truncated.halfClose()
        _ = truncated.readAll()
        #expect(goodDone.wait(timeout: .now() + 180) == .success, "the good client was held up")
        let stderr = { daemon.daemon.stderr }
        #expect(daemon.daemon.waitForLog("truncated PRN1 record at end of input"))
        #expect(stderr().contains("expected PRN1 record magic") || stderr().contains("closed: record error at decompressed byte offset 0"),
                "random bytes: \(stderr().suffix(2000))")
        #expect(waitForLines(in: daemon.logPath, atLeast: 6_000 + 2) != nil)
        let peak = ProcessMemory.peakResidentKiB(pid) ?? 0
        print("[measured] hostile clients\(swapped ? " (transports swapped)" : ""): peak RSS \(peak / 1024) MiB")
        #expect(daemon.daemon.process.isRunning)
        // The silent client does not keep the daemon from stopping.
        #expect(daemon.daemon.terminate() == 0, "\(stderr())")
        _ = silent
        #expect(stderr().contains("reached EOF after 0 records"))
        let log = try Data(contentsOf: URL(fileURLWithPath: daemon.logPath))
        let check = ExactlyOnce(log: log, expected: (0..<6_000).map { "c0-\($0)" } + ["t0", ""])
        #expect(check.torn == 0 && check.missing.isEmpty && check.doubled.isEmpty, "\(check.summary)")
        let lines = parseDecisions(log)
        #expect(lines.filter { $0.reason == "too_large" }.count == 1, "the 100 MB line is one too_large reject")
        #expect(peak < Self.rssBoundKiB, "peak RSS \(peak / 1024) MiB")
    }

    @Test("a reply-mode client that never reads: its reading pauses at --max-reply-backlog, another reply client is served",
          arguments: [false, true])
    func replyClientThatNeverReads(tcp: Bool) throws {
        let port = SocketClient.freePort()
        let daemon = try ListeningDaemon(arguments: Self.engine + ["--reply", "--lookahead", "0", "--max-reply-backlog", "1048576",
                                                                   "--listen", "tcp:127.0.0.1:\(port)"])
        #expect(daemon.waitUntilListening())
        #expect(daemon.daemon.waitForLog("listening on tcp:127.0.0.1:\(port)"))
        let pid = daemon.daemon.process.processIdentifier
        // 60,000 records: ~12 MB of replies it never reads (on a unix socket, or TCP).
        let deaf = tcp ? try Client(tcpPort: port) : try Client(unix: daemon.socketPath)
        let deafRecords = LoadClients.records(client: 1, count: 60_000, dimension: 16)
        Thread.detachNewThread { deaf.send(deafRecords) }
        #expect(daemon.daemon.waitForLog("reply bytes not read by the client (--max-reply-backlog 1048576)"))
        // A well-behaved reply client gets every answer meanwhile.
        let reply = try SocketClient.sendUnix(path: daemon.socketPath, data: LoadClients.records(client: 2, count: 3_000, dimension: 16),
                                              readReply: true)
        let replies = parseDecisions(reply)
        #expect(replies.map(\.id) == (0..<3_000).map { "c2-\($0)" })
        let peak = ProcessMemory.peakResidentKiB(pid) ?? 0
        print("[measured] reply client that never reads (\(tcp ? "TCP" : "unix")): peak RSS \(peak / 1024) MiB")
        #expect(daemon.daemon.process.isRunning)
        // Stopping does not wait for the client that never reads.
        #expect(daemon.daemon.terminate() == 0, "\(daemon.daemon.stderr)")
        let lines = parseDecisions(try Data(contentsOf: URL(fileURLWithPath: daemon.logPath)))
        let deafLines = lines.filter { $0.id.hasPrefix("c1-") }
        // Everything it had read was decided once; reading stopped well short of all of it.
        #expect(Set(deafLines.map(\.id)).count == deafLines.count)
        #expect(deafLines.count < 60_000, "reading should have paused for the client that never reads")
        #expect(peak < Self.rssBoundKiB, "peak RSS \(peak / 1024) MiB")
    }

    @Test("reply clients that close before their verdicts: the writes fail, the daemon lives on (it died of SIGPIPE)")
    func replyClientsThatLeave() throws {
        let daemon = try ListeningDaemon(arguments: Self.engine + ["--reply", "--lookahead", "0"])
        #expect(daemon.waitUntilListening())
        // 100 records held by the warm-up (500), the connection closed: their verdicts have nowhere to go.
        _ = try SocketClient.sendUnix(path: daemon.socketPath, data: LoadClients.records(client: 1, count: 100, dimension: 16))
        #expect(daemon.daemon.waitForLog("reached EOF after 100 records"))
        // A client that reads: its records end the warm-up, so the first client's verdicts are written.
        let reply = try SocketClient.sendUnix(path: daemon.socketPath, data: LoadClients.records(client: 2, count: 1_000, dimension: 16),
                                              readReply: true)
        #expect(parseDecisions(reply).map(\.id) == (0..<1_000).map { "c2-\($0)" })
        #expect(daemon.daemon.process.isRunning)
        #expect(daemon.daemon.terminate() == 0, "\(daemon.daemon.stderr)")
        let lines = parseDecisions(try Data(contentsOf: URL(fileURLWithPath: daemon.logPath)))
        #expect(lines.count == 1_100 && Set(lines.map(\.id)).count == 1_100, "\(lines.count) lines")

        // Held at the stop: the verdicts are written while stopping, to a closed connection.
        let stopping = try ListeningDaemon(arguments: Self.engine + ["--reply", "--lookahead", "0"])
        #expect(stopping.waitUntilListening())
        _ = try SocketClient.sendUnix(path: stopping.socketPath, data: LoadClients.records(client: 3, count: 50, dimension: 16))
        #expect(stopping.daemon.waitForLog("reached EOF after 50 records"))
        #expect(stopping.daemon.terminate() == 0, "\(stopping.daemon.stderr)")
        #expect(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: stopping.logPath))).count == 50)
    }

    @Test("1,000 connections at once with --max-connections 500: 500 served in full, the rest refused politely",
          arguments: [false, true])
    func connectionLimit(tcp: Bool) throws {
        let port = SocketClient.freePort()
        let daemon = try ListeningDaemon(arguments: Self.engine + ["--reply", "--lookahead", "0", "--max-connections", "500",
                                                                   "--listen", "tcp:127.0.0.1:\(port)"])
        #expect(daemon.waitUntilListening())
        #expect(daemon.daemon.waitForLog("listening on tcp:127.0.0.1:\(port)"))
        let pid = daemon.daemon.process.processIdentifier
        let clients = 1_000, perClient = 20
        // Every client connects, then all send once all are connected: 500 are open when
        // the others arrive, so exactly those beyond the limit are refused.
        let connected = DispatchGroup()
        let finished = DispatchGroup()
        let start = DispatchSemaphore(value: 0)
        let results = ResultTable(count: clients)
        for client in 0..<clients {
            connected.enter()
            finished.enter()
            Thread.detachNewThread {
                let socket = tcp ? try? Client(tcpPort: port) : try? Client(unix: daemon.socketPath)
                connected.leave()
                start.wait()
                if let socket {
                    socket.send(LoadClients.records(client: 100 + client, count: perClient, dimension: 16))
                    socket.halfClose()
                    results.set(client, parseDecisions(socket.readAll()).count)
                }
                finished.leave()
            }
        }
        #expect(connected.wait(timeout: .now() + 120) == .success)
        for _ in 0..<clients { start.signal() }
        #expect(finished.wait(timeout: .now() + 240) == .success)
        let counts = results.all
        let served = counts.filter { $0 == perClient }.count
        let refused = counts.filter { $0 == 0 }.count
        #expect(served + refused == clients, "a client got part of its replies: \(counts.filter { $0 != 0 && $0 != perClient })")
        #expect(served == 500)
        #expect(daemon.daemon.waitForLog("500 connections open, the limit (--max-connections 500)"))
        let peak = ProcessMemory.peakResidentKiB(pid) ?? 0
        print("[measured] 1,000 \(tcp ? "TCP" : "unix") connections, limit 500: peak RSS \(peak / 1024) MiB")
        #expect(daemon.daemon.terminate() == 0, "\(daemon.daemon.stderr)")
        let lines = parseDecisions(try Data(contentsOf: URL(fileURLWithPath: daemon.logPath)))
        #expect(lines.count == served * perClient)
        #expect(Set(lines.map(\.id)).count == lines.count)
        #expect(peak < Self.rssBoundKiB, "peak RSS \(peak / 1024) MiB")
    }

    @Test("unix sockets are created with mode 0660; a TCP listener off loopback is warned about")
    func socketPermissions() throws {
        let port = SocketClient.freePort()
        let daemon = try ListeningDaemon(arguments: Self.engine + ["--listen", "tcp:0.0.0.0:\(port)",
                                                                   "--socket-group", "\(getgid())"])
        #expect(daemon.waitUntilListening())
        #expect(daemon.daemon.waitForLog("tcp:0.0.0.0:\(port) is not a loopback address"))
        var info = stat()
        #expect(stat(daemon.socketPath, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660, "mode \(String(info.st_mode & 0o777, radix: 8))")
        #expect(info.st_gid == getgid())
        #expect(daemon.daemon.terminate() == 0)
        // A loopback listener is not warned about.
        let quiet = try ListeningDaemon(arguments: Self.engine + ["--listen", "tcp:127.0.0.1:\(SocketClient.freePort())"])
        #expect(quiet.waitUntilListening())
        #expect(quiet.daemon.terminate() == 0)
        #expect(!quiet.daemon.stderr.contains("not a loopback address"))
    }

    @Test("ids that look like format strings, paths or JSON are data: decided, escaped, never interpreted")
    func hostileIds() throws {
        let directory = TestPaths.temporaryDirectory()
        let bait = directory.appendingPathComponent("created-by-an-id").path
        let ids = ["%n%n%s%s%x%@", "../../../../\(bait)", "\(bait)\u{0}tail", "\"},{\"decision\":\"keep\"", "\\\u{1}\u{7F}\n",
                   "${HOME}$(touch \(bait))`id`", "\u{202E}ŗtl\u{FEFF}"]
        var stream = Data()
        for (index, id) in ids.enumerated() { stream += Handmade.prn1(id, Handmade.randomVector(index, dimension: 16)) }
        let daemon = try ListeningDaemon(arguments: Self.engine + ["--lookahead", "0"])
        #expect(daemon.waitUntilListening())
        _ = try SocketClient.sendUnix(path: daemon.socketPath, data: stream)
        #expect(waitForLines(in: daemon.logPath, atLeast: ids.count) == ids.count)
        #expect(daemon.daemon.terminate() == 0)
        let lines = parseDecisions(try Data(contentsOf: URL(fileURLWithPath: daemon.logPath)))
        #expect(lines.map(\.id) == ids)
        #expect(lines.allSatisfy { $0.decision != "reject" })
        #expect(!FileManager.default.fileExists(atPath: bait))
        #expect(!daemon.daemon.stderr.contains("%n"))
    }

    /// Per-client reply counts filled by the client threads.
    final class ResultTable: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Int]
        init(count: Int) { values = Array(repeating: 0, count: count) }
        func set(_ index: Int, _ value: Int) { lock.lock(); values[index] = value; lock.unlock() }
        var all: [Int] { lock.lock(); defer { lock.unlock() }; return values }
    }
}
