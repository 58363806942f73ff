// The Redis client layer against a real redis-server: binary-safe arguments,
// typed replies, prunerd's own command timeout, reconnect with back-off and the
// single warning per outage.
import Foundation
import Logging
import Testing
@testable import PrunerDaemon
#if canImport(Glibc)
import Glibc
#endif

/// Collects log messages (level and text) for assertions.
final class CollectedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [(Logger.Level, String)] = []

    func append(_ level: Logger.Level, _ message: String) {
        lock.lock(); entries.append((level, message)); lock.unlock()
    }

    func messages(at level: Logger.Level) -> [String] {
        lock.lock(); defer { lock.unlock() }
        return entries.filter { $0.0 == level }.map(\.1)
    }

    var logger: Logger {
        var logger = Logger(label: "test") { _ in CollectingHandler(log: self) }
        logger.logLevel = .debug
        return logger
    }

    struct CollectingHandler: LogHandler {
        let log: CollectedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                 file: String, function: String, line: UInt) {
            log.append(level, message.description)
        }
    }
}

/// Runs `loop` until its handles are done, or stops it after `seconds` (a test that would hang fails instead).
func runLoop(_ loop: EventLoop, atMost seconds: Double = 20) {
    let guardTimer = try! LoopTimer(on: loop) { loop.stop() }
    guardTimer.start(after: UInt64(seconds * 1000))
    guardTimer.unref()
    loop.run()
    guardTimer.close()
}

@Suite("redis client", .serialized, .enabled(if: RedisServer.isInstalled, "redis-server is not installed (scripts/install-deps)"))
struct RedisClientTests {
    @Test("redis:// URLs: host, port, name, query; bad ones say what is wrong")
    func urls() throws {
        let url = try RedisURL(parsing: "redis://127.0.0.1:6390/crawl?group=shards&x=1")
        #expect(url.host == "127.0.0.1" && url.port == 6390 && url.name == "crawl" && url.parameter("group") == "shards")
        #expect(try RedisURL(parsing: "redis://[::1]/s").host == "::1")
        #expect(try RedisURL(parsing: "redis://example/s").port == 6379)
        for (text, reason) in [("tcp:1.2.3.4:5", "expected redis://"), ("redis://:6379/s", "no host"),
                               ("redis://h:99999/s", "port '99999'"), ("redis://h:1/s?group", "not key=value")] {
            #expect(throws: RedisURLError.self) { try RedisURL(parsing: text) }
            do { _ = try RedisURL(parsing: text) } catch { #expect(error.description.contains(reason), "\(error)") }
        }
    }

    @Test("binary-safe arguments and every reply type")
    func replies() throws {
        let server = try RedisServer()
        defer { server.stop() }
        let loop = try EventLoop()
        let log = CollectedLog()
        let client = try RedisClient(url: try RedisURL(parsing: server.url()), role: "test", loop: loop, logger: log.logger)
        let value: [UInt8] = [0, 13, 10, 255, 36, 42, 0]
        var results: [Result<RedisReply, RedisError>] = []
        client.send(["SET", "k\0ey", value]) { results.append($0)
            client.send(["GET", "k\0ey"]) { results.append($0)
                client.send(["GET", "absent"]) { results.append($0)
                    client.send(["RPUSH", "list", "a", "b"]) { results.append($0)
                        client.send(["LRANGE", "list", "0", "-1"]) { results.append($0)
                            client.send(["INCR", "list"]) { results.append($0)
                                client.close()
                            }
                        }
                    }
                }
            }
        }
        runLoop(loop)
        #expect(results.count == 6)
        guard results.count == 6 else { return }
        #expect(try results[0].get() == .status("OK"))
        #expect(try results[1].get() == .string(value))
        #expect(try results[2].get() == .null)
        #expect(try results[3].get() == .integer(2))
        #expect(try results[4].get() == .array([.string(Array("a".utf8)), .string(Array("b".utf8))]))
        #expect(try results[5].get().errorMessage?.hasPrefix("WRONGTYPE") == true)
        #expect(log.messages(at: .warning).isEmpty)
    }

    @Test("a command past its timeout fails as timedOut, the connection is made again, commands work after it")
    func timeout() throws {
        let server = try RedisServer()
        defer { server.stop() }
        let loop = try EventLoop()
        let log = CollectedLog()
        let client = try RedisClient(url: try RedisURL(parsing: server.url()), role: "test", loop: loop, logger: log.logger,
                                     commandTimeout: 0.3)
        var slow: Result<RedisReply, RedisError>?
        var after: Result<RedisReply, RedisError>?
        var connects = 0
        client.onConnected = {
            connects += 1
            if connects == 1 {
                // Blocks this connection (not the server) for 1 s: the reply comes too late.
                client.send(["BLPOP", "nothing-here", "1"]) { slow = $0 }
            } else {
                client.send(["PING"]) { after = $0; client.close() }
            }
        }
        runLoop(loop)
        client.onConnected = nil   // it captures the client
        #expect(slow == .failure(.timedOut(seconds: 0.3)))
        #expect(after == .success(.status("PONG")))
        #expect(connects == 2)
    }

    @Test("server down: warned once, commands fail as unavailable, reconnects by itself when it is back")
    func reconnect() throws {
        let server = try RedisServer()
        defer { server.stop() }
        let loop = try EventLoop()
        let log = CollectedLog()
        let client = try RedisClient(url: try RedisURL(parsing: server.url()), role: "test", loop: loop, logger: log.logger)
        var connects = 0
        var failures: [RedisError] = []
        var final: Result<RedisReply, RedisError>?
        let restarter = RestartBox(server: server)
        client.onConnected = {
            connects += 1
            if connects == 1 {
                server.stop()
                // Every retry while it is down fails; start it again after a few of them.
                restarter.restartSoon()
            } else {
                client.send(["PING"]) { final = $0; client.close() }
            }
        }
        client.onUnavailable = { failures.append($0)
            client.send(["PING"]) { if case .failure(let error) = $0 { failures.append(error) } }
        }
        runLoop(loop)
        restarter.wait()
        // The handlers capture the client and the server: break the cycle, or the
        // restarted redis-server outlives the test.
        client.onConnected = nil
        client.onUnavailable = nil
        server.stop()
        #expect(connects == 2)
        #expect(final == .success(.status("PONG")))
        #expect(failures.count >= 4, "\(failures)")
        #expect(failures.contains { if case .unavailable = $0 { return true } else { return false } })
        #expect(log.messages(at: .warning).count == 1, "\(log.messages(at: .warning))")
        #expect(log.messages(at: .info).contains { $0.contains("reachable again") })
    }

    /// Restarts the server from another thread after 700 ms (the loop thread keeps retrying meanwhile).
    final class RestartBox: @unchecked Sendable {
        let server: RedisServer
        let done = DispatchSemaphore(value: 0)
        init(server: RedisServer) { self.server = server }
        func restartSoon() {
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.7) { [self] in
                try? server.start()
                done.signal()
            }
        }
        func wait() { done.wait() }
    }
}
