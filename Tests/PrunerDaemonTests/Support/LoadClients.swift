// Many real socket clients at once, the daemon's memory as the kernel reports
// it, and a slow reader of a decision-log FIFO: what load tests are made of.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A daemon in the background listening on its own unix socket, with its own
/// state directory and control socket (tests run concurrently with other agents'
/// daemons: nothing may be shared through the default paths).
struct ListeningDaemon {
    let directory: URL
    let socketPath: String
    let daemon: BackgroundDaemon

    /// Starts `prunerd serve --listen unix:… --decisions decisions` and waits until it listens.
    init(decisions: String? = nil, arguments: [String]) throws {
        directory = TestPaths.temporaryDirectory()
        socketPath = directory.appendingPathComponent("in.sock").path
        daemon = try BackgroundDaemon(arguments: [
            "serve", "--listen", "unix:\(socketPath)",
            "--decisions", decisions ?? directory.appendingPathComponent("decisions.jsonl").path,
            "--state-dir", directory.appendingPathComponent("state").path,
            "--control", directory.appendingPathComponent("control.sock").path,
        ] + arguments)
    }

    var logPath: String { directory.appendingPathComponent("decisions.jsonl").path }

    func waitUntilListening() -> Bool { daemon.waitForLog("listening on unix:\(socketPath)") }
}

/// Resident memory of a process, from /proc (KiB).
enum ProcessMemory {
    /// Current resident set size (VmRSS).
    static func residentKiB(_ pid: Int32) -> Int? { field("VmRSS:", pid) }
    /// Peak resident set size so far (VmHWM).
    static func peakResidentKiB(_ pid: Int32) -> Int? { field("VmHWM:", pid) }

    private static func field(_ name: String, _ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }
}

/// Samples a process's RSS every 50 ms on a thread of its own.
final class MemorySampler: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int] = []
    private var running = true

    init(pid: Int32) {
        Thread.detachNewThread { [self] in
            while isRunning, let value = ProcessMemory.residentKiB(pid) {
                lock.lock(); values.append(value); lock.unlock()
                usleep(50_000)
            }
        }
    }

    private var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }

    /// Stops sampling and returns the samples (KiB).
    func stop() -> [Int] {
        lock.lock(); running = false; let result = values; lock.unlock()
        return result
    }
}

/// Clients sending at once, each on its own thread with a blocking socket (as
/// a crawler's senders are), each with records of distinct ids `c<client>-<i>`.
enum LoadClients {
    /// PRN1 records (float32, dimension `dimension`) of one client.
    static func records(client: Int, count: Int, dimension: Int) -> Data {
        var data = Data()
        data.reserveCapacity(count * (20 + 4 * dimension))
        for i in 0..<count {
            data += Handmade.prn1("c\(client)-\(i)", Handmade.randomVector(client * 1_000_003 + i, dimension: dimension))
        }
        return data
    }

    /// Starts every client at once and waits until all have sent everything and
    /// half-closed (the daemon has read all but what sits in socket buffers).
    /// Returns the clients that failed, and whether all finished within `timeout`
    /// (a stalled daemon leaves senders blocked in `send`).
    static func sendAll(socketPath: String, streams: [Data], timeout: TimeInterval = 240) -> (failed: [Int], finished: Bool) {
        let group = DispatchGroup()
        let failures = FailureList()
        for (client, data) in streams.enumerated() {
            group.enter()
            Thread.detachNewThread {
                do { _ = try SocketClient.sendUnix(path: socketPath, data: data) } catch { failures.add(client) }
                group.leave()
            }
        }
        let finished = group.wait(timeout: .now() + timeout) == .success
        return (failures.all, finished)
    }

    private final class FailureList: @unchecked Sendable {
        private let lock = NSLock()
        private var clients: [Int] = []
        func add(_ client: Int) { lock.lock(); clients.append(client); lock.unlock() }
        var all: [Int] { lock.lock(); defer { lock.unlock() }; return clients.sorted() }
    }
}

/// Drains a FIFO at a fixed rate into a file: a decision log on a slow disk.
final class SlowFIFOReader: @unchecked Sendable {
    let fifo: String
    let output: URL
    private let done = DispatchSemaphore(value: 0)

    /// Creates the FIFO; reading starts at once on a thread (the daemon's open waits for it).
    init(directory: URL, bytesPerSecond: Double) {
        fifo = directory.appendingPathComponent("decisions.fifo").path
        output = directory.appendingPathComponent("decisions.jsonl")
        precondition(mkfifo(fifo, 0o600) == 0, "mkfifo failed: \(errno)")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        Thread.detachNewThread { [self] in
            let source = open(fifo, O_RDONLY)
            let sink = FileHandle(forWritingAtPath: output.path)!
            var buffer = [UInt8](repeating: 0, count: 16384)
            var total = 0
            let start = Date()
            while true {
                let count = read(source, &buffer, buffer.count)
                if count <= 0 { break }
                sink.write(Data(buffer[0..<count]))
                total += count
                let ahead = Double(total) / bytesPerSecond - Date().timeIntervalSince(start)
                if ahead > 0 { usleep(useconds_t(ahead * 1e6)) }
            }
            close(source)
            try? sink.close()
            done.signal()
        }
    }

    /// Waits until the writer closed the FIFO and everything was copied.
    func waitForEnd(timeout: TimeInterval = 120) -> Bool { done.wait(timeout: .now() + timeout) == .success }
}

/// Checks that a decision log has exactly one whole line for each expected id
/// (a scan for the `id` field: JSON-parsing half a million lines in a debug
/// build would take longer than the load itself).
struct ExactlyOnce {
    var lines = 0
    var torn = 0
    var missing: [String] = []
    var doubled: [String] = []
    var unexpected: [String] = []

    init(log: Data, expected: [String]) {
        var counts: [String: Int] = [:]
        counts.reserveCapacity(expected.count)
        let key = Array("\"id\":\"".utf8)
        log.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
                lines += 1
                if end == bytes.count || bytes[start] != UInt8(ascii: "{") || bytes[end - 1] != UInt8(ascii: "}") {
                    torn += 1
                } else if let id = Self.field(key, in: bytes, from: start, to: end) {
                    counts[id, default: 0] += 1
                } else {
                    torn += 1
                }
                start = end + 1
            }
        }
        let wanted = Set(expected)
        missing = expected.filter { counts[$0] == nil }
        doubled = counts.filter { $0.value > 1 }.map(\.key)
        unexpected = counts.keys.filter { !wanted.contains($0) }
    }

    private static func field(_ key: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> String? {
        var i = from
        while i + key.count < to {
            if bytes[i] == key[0] && Array(bytes[i..<i + key.count]) == key {
                let valueStart = i + key.count
                var valueEnd = valueStart
                while valueEnd < to && bytes[valueEnd] != UInt8(ascii: "\"") { valueEnd += 1 }
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[valueStart..<valueEnd]), as: UTF8.self)
            }
            i += 1
        }
        return nil
    }

    var holds: Bool { torn == 0 && missing.isEmpty && doubled.isEmpty && unexpected.isEmpty }

    var summary: String {
        "\(lines) lines, \(torn) torn, \(missing.count) missing (first \(missing.prefix(3))), "
            + "\(doubled.count) doubled (first \(doubled.prefix(3))), \(unexpected.count) unexpected"
    }
}

/// Waits while a file grows; returns its final line count once it reached
/// `target` lines, or nil when it stopped growing for `stall` seconds first
/// (the stall the load tests are about).
func waitForLines(in path: String, atLeast target: Int, stall: TimeInterval = 30) -> Int? {
    var last = -1
    var lastChange = Date()
    var stalled = false
    _ = pollUntil(timeout: .infinity, poll: 0.05) {
        let count = countLines(path)
        if count >= target { last = count; return true }
        if count != last {
            last = count
            lastChange = Date()
        } else if Date().timeIntervalSince(lastChange) > stall {
            stalled = true
        }
        return stalled
    }
    return stalled ? nil : last
}

/// Newlines in a file (memchr: fast in a debug build too).
func countLines(_ path: String) -> Int {
    guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)) else { return 0 }
    return data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int in
        guard var cursor = raw.baseAddress else { return 0 }
        let end = cursor + raw.count
        var count = 0
        while cursor < end, let found = memchr(cursor, 10, end - cursor) {
            count += 1
            cursor = UnsafeRawPointer(found) + 1
        }
        return count
    }
}
