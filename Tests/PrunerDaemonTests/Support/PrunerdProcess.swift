// Runs the real prunerd binary (built next to the test bundle) and the real
// Python producer, and reads decision logs back. End-to-end tests use only these.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

enum TestPaths {
    /// The package root, from this file's location.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The prunerd executable built with the tests (same build directory as the test bundle).
    static var prunerd: String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [beside, beside.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("prunerd").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return packageRoot.appendingPathComponent(".build/debug/prunerd").path
    }

    static let producer = packageRoot.appendingPathComponent("scripts/prn1.py").path
    static let sample = packageRoot.appendingPathComponent("Samples/docstrings-8k.prn1.lz4").path

    /// `../shared/data` beside the clone, when present (CI and development machines).
    static var sharedData: URL? {
        for candidate in [packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data"),
                          URL(fileURLWithPath: "/work/shared/data")] {
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("docstrings-minilm384.f16.npy").path) {
                return candidate
            }
        }
        return nil
    }

    /// A fresh temporary directory, under this test process's own root (`testRoot`), which goes
    /// when the process exits: a test that stops at a failed `#require`, or keeps its directory
    /// to the end of its body, leaves nothing behind in /tmp.
    static func temporaryDirectory() -> URL {
        let url = testRoot.appendingPathComponent("prunerd-test-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// `$TMPDIR/prunerd-tests-PID`, removed at exit. Roots of test processes no longer running
    /// (killed, so their exit handler never ran) are removed when the first one is made.
    static let testRoot: URL = {
        let temporary = URL(fileURLWithPath: NSTemporaryDirectory())
        let names = (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? []
        for name in names where name.hasPrefix("prunerd-tests-") {
            if let pid = Int32(name.dropFirst("prunerd-tests-".count)), kill(pid, 0) != 0, errno == ESRCH {
                try? FileManager.default.removeItem(at: temporary.appendingPathComponent(name))
            }
        }
        let root = temporary.appendingPathComponent("prunerd-tests-\(getpid())")
        try! FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        atexit {
            try? FileManager.default.removeItem(at: URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("prunerd-tests-\(getpid())"))
        }
        return root
    }()
}

/// The result of a finished process.
struct ProcessResult {
    var status: Int32
    var stdout: Data
    var stderr: String
}

/// Runs a command to completion, feeding `input` on stdin.
@discardableResult
func runProcess(_ executable: String, _ arguments: [String], input: Data? = nil,
                environment: [String: String]? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let stdoutPipe = Pipe(), stderrPipe = Pipe(), stdinPipe = Pipe()
    process.standardOutput = stdoutPipe
    process.standardError = stderrPipe
    process.standardInput = input == nil ? FileHandle.nullDevice : stdinPipe
    try process.run()
    let out = DataBox(), err = DataBox()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { out.data = stdoutPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter()
    DispatchQueue.global().async { err.data = stderrPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    if let input {
        stdinPipe.fileHandleForWriting.write(input)
        try stdinPipe.fileHandleForWriting.close()
    }
    process.waitUntilExit()
    group.wait()
    return ProcessResult(status: process.terminationStatus, stdout: out.data, stderr: String(decoding: err.data, as: UTF8.self))
}

/// Bytes filled by another thread; the DispatchGroup wait orders the accesses.
final class DataBox: @unchecked Sendable {
    var data = Data()
}

/// Runs the Python producer (`scripts/prn1.py`) and returns the bytes it wrote.
func produce(_ arguments: [String]) throws -> Data {
    let result = try runProcess("/usr/bin/env", ["python3", TestPaths.producer] + arguments + ["-o", "-"])
    precondition(result.status == 0, "producer failed: \(result.stderr)")
    return result.stdout
}

/// Writes a small synthetic .npy (float32) for the producer: `clusters` blobs in `dimension` dims.
func writeSyntheticNPY(rows: Int, dimension: Int, clusters: Int, seed: Int, to url: URL) throws {
    let script = """
    import numpy as np, sys
    rng = np.random.default_rng(\(seed))
    centers = rng.normal(size=(\(clusters), \(dimension)))
    sizes = rng.integers(1, 6, size=\(clusters)).astype(float); sizes /= sizes.sum()
    labels = rng.choice(\(clusters), size=\(rows), p=sizes)
    spread = rng.uniform(0.1, 0.6, size=\(clusters))[labels][:, None]
    x = centers[labels] + spread * rng.normal(size=(\(rows), \(dimension)))
    np.save(sys.argv[1], x.astype(np.float32))
    """
    let result = try runProcess("/usr/bin/env", ["python3", "-c", script, url.path])
    precondition(result.status == 0, result.stderr)
}

/// One parsed decision line.
struct DecisionLine: Equatable {
    var src: String
    var seq: Int
    var id: String
    var decision: String
    var reason: String
    var cluster: Int?
    var dist: Double?
    var threshold: Double?
    var keys: [String]

    /// The line without its timestamp and source, for comparing runs.
    var verdictKey: String { "\(seq)|\(id)|\(decision)|\(reason)|\(cluster.map(String.init) ?? "null")" }
}

/// Parses a decision log; fails the caller (via precondition) on any malformed line.
func parseDecisions(_ data: Data) -> [DecisionLine] {
    String(decoding: data, as: UTF8.self).split(separator: "\n").map { line in
        let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        let keys = line.dropFirst().split(separator: ",").compactMap { field -> String? in
            guard field.hasPrefix("\"") else { return nil }
            return String(field.dropFirst().prefix { $0 != "\"" })
        }
        return DecisionLine(
            src: object["src"] as! String, seq: object["seq"] as! Int, id: object["id"] as! String,
            decision: object["decision"] as! String, reason: object["reason"] as! String,
            cluster: object["cluster"] as? Int, dist: object["dist"] as? Double,
            threshold: object["threshold"] as? Double, keys: keys)
    }
}

/// A prunerd daemon running in the background for socket tests.
final class BackgroundDaemon: @unchecked Sendable {
    let process = Process()
    let stderrPipe = Pipe()
    private var stderrData = Data()
    /// Set when the daemon's stderr reached EOF: every line it wrote has been read.
    private var stderrClosed = false
    private let lock = NSLock()

    init(arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: TestPaths.prunerd)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardError = stderrPipe
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        stderrPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            self?.lock.lock()
            if chunk.isEmpty { self?.stderrClosed = true } else { self?.stderrData.append(chunk) }
            self?.lock.unlock()
            if chunk.isEmpty { handle.readabilityHandler = nil }
        }
        try process.run()
    }

    var stderr: String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: stderrData, as: UTF8.self)
    }

    /// Waits until the daemon's log contains `text`; on timeout the issue names the line.
    func waitForLog(_ text: String, timeout: TimeInterval = 20,
                    sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        waitUntil("the daemon's stderr to contain \"\(text)\"", timeout: timeout, sourceLocation: sourceLocation) {
            stderr.contains(text)
        }
    }

    /// Sends SIGTERM, waits for the exit and for its stderr to reach EOF (so `stderr` holds
    /// every line, the summary included); returns the exit status.
    func terminate(sourceLocation: SourceLocation = #_sourceLocation) -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        waitUntil("the daemon's stderr to reach EOF", timeout: 5, poll: 0.005, sourceLocation: sourceLocation) {
            lock.lock(); defer { lock.unlock() }
            return stderrClosed
        }
        stderrPipe.fileHandleForReading.readabilityHandler = nil
        return process.terminationStatus
    }
}

/// Client sockets for end-to-end tests.
enum SocketClient {
    /// Connects to a unix socket, sends `data`, half-closes, and optionally reads the reply to EOF.
    static func sendUnix(path: String, data: Data, readReply: Bool = false) throws -> Data {
        exchange(fd: try connectUnix(path: path), data: data, readReply: readReply)
    }

    private static func connectUnix(path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard status == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
        return fd
    }

    /// Connects to a unix socket, sends `pieces` as separate writes 50 ms apart (so the daemon
    /// reads them apart), half-closes, and reads the reply to EOF.
    static func sendUnixInPieces(path: String, pieces: [Data]) throws -> Data {
        let fd = try connectUnix(path: path)
        for piece in pieces.dropLast() {
            piece.withUnsafeBytes { raw in _ = send(fd, raw.baseAddress!, raw.count, Int32(MSG_NOSIGNAL)) }
            usleep(50_000)
        }
        return exchange(fd: fd, data: pieces.last ?? Data(), readReply: true)
    }

    /// Connects to 127.0.0.1:port, sends `data`, half-closes, optionally reads the reply to EOF.
    static func sendTCP(port: UInt16, data: Data, readReply: Bool = false) throws -> Data {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
        return exchange(fd: fd, data: data, readReply: readReply)
    }

    /// A TCP port that was free a moment ago.
    static func freePort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    private static func exchange(fd: Int32, data: Data, readReply: Bool) -> Data {
        defer { close(fd) }
        let reply = DataBox()
        let group = DispatchGroup()
        if readReply {
            group.enter()
            DispatchQueue.global().async {
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = read(fd, &buffer, buffer.count)
                    if count <= 0 { break }
                    reply.data.append(contentsOf: buffer[0..<count])
                }
                group.leave()
            }
        }
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let sent = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if sent <= 0 { break }
                offset += sent
            }
        }
        shutdown(fd, Int32(SHUT_WR))
        group.wait()
        return reply.data
    }
}

/// `prunerd status --control control` as a JSON object, nil while the daemon does not answer:
/// what tests poll to learn how far a running daemon got (records read, warm-up).
func daemonStatus(control: String) -> [String: Any]? {
    guard let reply = try? runProcess(TestPaths.prunerd, ["status", "--control", control]), reply.status == 0 else { return nil }
    return (try? JSONSerialization.jsonObject(with: reply.stdout)) as? [String: Any]
}
