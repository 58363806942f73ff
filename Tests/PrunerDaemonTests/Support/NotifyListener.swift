// A test-owned NOTIFY_SOCKET: a unix datagram socket collecting every message
// the daemon sends to "systemd", with the time it arrived.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

final class NotifyListener: @unchecked Sendable {
    let name: String
    private let fd: Int32
    private var messages: [(at: Date, text: String)] = []
    private let lock = NSLock()
    private var running = true
    /// Signalled by the receiving thread as it leaves its loop.
    private let receiverDone = DispatchSemaphore(value: 0)

    /// - Parameter abstract: bind in the abstract namespace (`@name`) instead of a path.
    init(directory: URL, abstract: Bool) {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = abstract ? "@prunerd-test-\(UUID().uuidString.prefix(8))" : directory.appendingPathComponent("notify.sock").path
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
            if abstract { raw[0] = 0 }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        precondition(bound == 0, "bind notify socket failed: \(errno)")
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.fd = fd
        name = path
        startReceiving()
    }

    private func startReceiving() {
        let fd = self.fd
        let done = receiverDone
        Thread.detachNewThread { [weak self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while self?.isRunning == true {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count == 0 { break }
                if count > 0 { self?.append(String(decoding: buffer[0..<count], as: UTF8.self)) }
            }
            done.signal()
        }
    }

    private var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }
    private func append(_ text: String) { lock.lock(); messages.append((Date(), text)); lock.unlock() }

    var all: [(at: Date, text: String)] { lock.lock(); defer { lock.unlock() }; return messages }

    /// Waits until a message containing `text` arrived; on timeout the issue names the message.
    func waitFor(_ text: String, timeout: TimeInterval = 20, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        waitUntil("a notify message containing \"\(text)\"", timeout: timeout, sourceLocation: sourceLocation) {
            all.contains { $0.text.contains(text) }
        }
    }

    deinit {
        lock.lock(); running = false; lock.unlock()
        // Wake and retire the receiving thread before the descriptor can be reused
        // by another test's socket (recv on a reused fd would steal its data).
        shutdown(fd, Int32(SHUT_RDWR))
        // recv returns at once after shutdown (or within its 100 ms timeout): wait for the thread to leave.
        _ = receiverDone.wait(timeout: .now() + 2)
        close(fd)
    }
}
