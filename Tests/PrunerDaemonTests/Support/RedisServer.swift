// A real redis-server for tests: on a free loopback port, with its own temporary
// directory and no persistence, started and stopped by the test itself (CI runs
// nothing in the background). Stopping and starting it again on the same port is
// how tests take Redis away mid-stream.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

final class RedisServer: @unchecked Sendable {
    private(set) var port: UInt16
    let directory: URL
    private var process: Process?
    private let lock = NSLock()

    /// Whether `redis-server` is installed (scripts/install-deps installs it); tests skip without it.
    static var isInstalled: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-cli")
    }

    /// Starts a server and waits until it answers PING.
    ///
    /// A free port is only free when it was asked for: a test running beside this one may
    /// take it before the server binds it. Then this server exits and the PING is answered
    /// by the other test's, whose keys the two tests would share (a cluster test once
    /// adopted another's epoch); `start` refuses a server that is not its own, and a new
    /// port is tried.
    init() throws {
        port = SocketClient.freePort()
        directory = TestPaths.temporaryDirectory()
        for _ in 1..<5 {
            do {
                try start()
                return
            } catch RedisServerError.notOurs {
                port = SocketClient.freePort()
            }
        }
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// `redis://127.0.0.1:PORT` followed by `path`.
    func url(_ path: String = "") -> String { "redis://127.0.0.1:\(port)\(path.isEmpty ? "" : "/" + path)" }

    /// (Re)starts the server on its port and waits until it answers.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", directory.path, "--logfile", directory.appendingPathComponent("redis.log").path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        lock.lock(); self.process = process; lock.unlock()
        let answers = pollUntil(timeout: 20) {
            !process.isRunning || (try? cli(["PING"]))?.trimmingCharacters(in: .whitespacesAndNewlines) == "PONG"
        }
        guard answers else { throw POSIXError(.ETIMEDOUT) }
        // The server that answered must be this process (its port may have been taken meanwhile).
        let info = (try? raw(["INFO", "server"])) ?? ""
        guard process.isRunning, info.contains("process_id:\(process.processIdentifier)\r") || info.contains("process_id:\(process.processIdentifier)\n") else {
            stop()
            throw RedisServerError.notOurs(port: port)
        }
    }

    /// Stops the server (SIGKILL: nothing saved, like a crash) and waits for it to exit.
    func stop() {
        lock.lock(); let process = self.process; self.process = nil; lock.unlock()
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Stops the server; with `saving`, first writes its data (SHUTDOWN SAVE: a later
    /// `start()` loads it back from the directory, streams, groups and pending entries included).
    func stop(saving: Bool) throws {
        guard saving else { return stop() }
        lock.lock(); let process = self.process; self.process = nil; lock.unlock()
        _ = try? runProcess("/usr/bin/redis-cli", ["-h", "127.0.0.1", "-p", "\(port)", "SHUTDOWN", "SAVE"])
        process?.waitUntilExit()
    }

    /// Runs `redis-cli` against this server; returns its output (raw, one reply element a line).
    @discardableResult
    func cli(_ arguments: [String]) throws -> String {
        let result = try runProcess("/usr/bin/redis-cli", ["-h", "127.0.0.1", "-p", "\(port)", "--no-raw"] + arguments)
        guard result.status == 0 else { throw POSIXError(.EIO) }
        return String(decoding: result.stdout, as: UTF8.self)
    }

    /// Runs `redis-cli --raw` (replies unquoted, one element a line).
    func raw(_ arguments: [String]) throws -> String {
        let result = try runProcess("/usr/bin/redis-cli", ["-h", "127.0.0.1", "-p", "\(port)", "--raw"] + arguments)
        guard result.status == 0 else { throw POSIXError(.EIO) }
        return String(decoding: result.stdout, as: UTF8.self)
    }
}

/// Why a test's redis-server did not start.
enum RedisServerError: Error {
    /// Another process answers on the port (this server could not bind it).
    case notOurs(port: UInt16)
}
