// systemd's notification protocol (sd_notify(3)), spoken directly: one
// datagram per message to the AF_UNIX socket named by NOTIFY_SOCKET (a path, or
// an abstract name written with a leading `@`). libuv has no AF_UNIX datagram
// handle, and a datagram send never blocks for long, so this is the one place
// prunerd calls the socket API itself.
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Sends READY=1, STATUS=, WATCHDOG=1, RELOADING=1 and STOPPING=1 to systemd.
/// Without NOTIFY_SOCKET (not started by systemd) every call does nothing.
public final class SystemdNotifier {
    private let socket: FileDescriptor
    private var address = sockaddr_un()
    private var addressLength: socklen_t = 0

    /// Reads NOTIFY_SOCKET; `nil` when the service manager does not listen.
    public init?(environment socketName: String? = SystemdNotifier.environmentSocket()) {
        guard let name = socketName, !name.isEmpty, name.hasPrefix("/") || name.hasPrefix("@") else { return nil }
        let bytes = Array(name.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        let fd = Glibc.socket(AF_UNIX, SystemdNotifier.datagramCloseOnExec, 0)
        guard fd >= 0 else { return nil }
        socket = FileDescriptor(rawValue: fd)
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
            if bytes[0] == UInt8(ascii: "@") { raw[0] = 0 }   // abstract namespace
        }
        // Abstract names are not NUL-terminated: the length says where they end.
        addressLength = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes[0] == UInt8(ascii: "@") ? 0 : 1))
    }

    deinit { try? socket.close() }

    /// SOCK_DGRAM | SOCK_CLOEXEC, Linux's values (Glibc's enum constants are not
    /// visible to Swift 6.3 in whole-module release builds).
    private static let datagramCloseOnExec: Int32 = 2 | 0o2_000_000

    /// Sends one notification (newline-separated assignments).
    @discardableResult
    public func send(_ message: String) -> Bool {
        var bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                sendto(socket.rawValue, &bytes, bytes.count, Int32(MSG_NOSIGNAL), socketAddress, addressLength)
            }
        }
        return sent == bytes.count
    }

    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }
    public func status(_ text: String) { send("STATUS=\(text)") }
    public func watchdog() { send("WATCHDOG=1") }
    public func stopping() { send("STOPPING=1") }

    /// RELOADING=1 with MONOTONIC_USEC, as systemd ≥ 253 requires for notify-reload; older ones ignore the stamp.
    public func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        send("RELOADING=1\nMONOTONIC_USEC=\(microseconds)")
    }

    /// The watchdog interval systemd expects, from WATCHDOG_USEC (if WATCHDOG_PID is ours or unset).
    public static func watchdogInterval() -> UInt64? {
        guard let usec = environment("WATCHDOG_USEC").flatMap(UInt64.init), usec > 0 else { return nil }
        if let pid = environment("WATCHDOG_PID").flatMap(Int32.init), pid != getpid() { return nil }
        return usec
    }

    public static func environmentSocket() -> String? { environment("NOTIFY_SOCKET") }

    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// Sockets passed by systemd socket activation (sd_listen_fds(3)).
public enum SocketActivation {
    /// The first passed descriptor (SD_LISTEN_FDS_START).
    static let firstDescriptor: Int32 = 3

    /// Passed listening sockets with their FileDescriptorName=, or empty when not
    /// socket-activated. Unsets LISTEN_* so children do not inherit them.
    public static func takeListeningSockets() -> [(fd: Int32, name: String)] {
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let pid = SystemdNotifier.environment("LISTEN_PID").flatMap(Int32.init), pid == getpid(),
              let count = SystemdNotifier.environment("LISTEN_FDS").flatMap(Int32.init), count > 0 else { return [] }
        let names = SystemdNotifier.environment("LISTEN_FDNAMES")?.split(separator: ":", omittingEmptySubsequences: false)
            .map(String.init) ?? []
        return (0..<count).map { index in
            let fd = firstDescriptor + index
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let name = Int(index) < names.count ? names[Int(index)] : "unknown"
            return (fd, name)
        }
    }
}
