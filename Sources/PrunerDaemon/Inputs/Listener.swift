// Listening sockets: `--listen unix:PATH`, `--listen tcp:HOST:PORT`, or a socket
// handed over by systemd. Every accepted connection becomes its own input.
import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// Where to listen, parsed from `unix:PATH` or `tcp:HOST:PORT` (`[v6]:PORT` too).
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: UInt16)

    /// Parses the command-line spelling. A TCP address without a host binds loopback.
    public init(parsing text: String) throws(ListenAddressError) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw ListenAddressError(text: text, reason: "empty socket path") }
            self = .unix(path: path)
        } else if text.hasPrefix("tcp:") {
            let rest = text.dropFirst(4)
            guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]) else {
                throw ListenAddressError(text: text, reason: "expected tcp:HOST:PORT")
            }
            var host = String(rest[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            self = .tcp(host: host.isEmpty ? "127.0.0.1" : host, port: port)
        } else {
            throw ListenAddressError(text: text, reason: "expected unix:PATH or tcp:HOST:PORT")
        }
    }

    /// Whether only this host can connect: a unix socket, or TCP on a loopback address.
    public var isLocalOnly: Bool {
        switch self {
        case .unix: return true
        case .tcp(let host, _): return host == "localhost" || host == "::1" || host.hasPrefix("127.")
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): return "unix:" + path
        case .tcp(let host, let port): return host.contains(":") ? "tcp:[\(host)]:\(port)" : "tcp:\(host):\(port)"
        }
    }
}

/// A listen address that could not be parsed.
public struct ListenAddressError: Error, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "invalid listen address '\(text)': \(reason)" }
}

/// A listening socket on the loop; hands each accepted connection to `onConnection`.
final class Listener {
    /// The prefix of its connections' input names, e.g. `unix:/run/prunerd/in.sock`.
    let name: String
    /// Whether connections of this listener get one decision line back per record.
    let replies: Bool
    private let handle: StreamHandle
    private let loop: EventLoop
    private let makeClient: () throws(UVError) -> StreamHandle
    private let onConnection: (Listener, StreamHandle) -> Void
    private let onError: (Listener, UVError) -> Void
    private let unlinkOnClose: String?

    /// Binds and listens on `address`. A unix socket file gets mode 0660 (owner and
    /// group may connect, nobody else), and `group` as its group when given; both are
    /// set before `listen`, so no connection can come in under other permissions.
    init(address: ListenAddress, replies: Bool, loop: EventLoop, backlog: Int32 = 511, group: gid_t? = nil,
         onConnection: @escaping (Listener, StreamHandle) -> Void,
         onError: @escaping (Listener, UVError) -> Void) throws(UVError) {
        self.loop = loop
        self.replies = replies
        self.onConnection = onConnection
        self.onError = onError
        self.name = address.description
        switch address {
        case .unix(let path):
            // uv_pipe_bind cuts a longer path to fit sun_path and binds that other name (a stray
            // socket file, then a chmod error on the path asked for): refused before.
            let limit = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1
            guard path.utf8.count <= limit else {
                throw UVError(code: Int32(UV_ENAMETOOLONG.rawValue),
                              operation: "bind \(address) (its path is \(path.utf8.count) bytes; a unix socket's holds at most \(limit))")
            }
            let pipe = try UVHandle<uv_pipe_t> { uv_pipe_init(loop.loop, $0, 0) }
            // A socket file left by an unclean stop would make bind fail with EADDRINUSE.
            if Listener.isStaleSocket(path) { FileSystem.removeFile(atPath: path) }
            let status = uv_pipe_bind(pipe.pointer, path)
            if status != 0 {
                pipe.close()
                // libuv turns bind's ENOENT into EACCES (as on Windows): a missing directory read "permission denied".
                let directory = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
                if status == Int32(UV_EACCES.rawValue), (try? FileKind.of(path: directory)) == nil {
                    throw UVError(code: Int32(UV_ENOENT.rawValue), operation: "bind \(address) (directory \(directory) does not exist)")
                }
                throw UVError(code: status, operation: "bind \(address)")
            }
            if chmod(path, 0o660) != 0 || (group.map { chown(path, uid_t.max, $0) } ?? 0) != 0 {
                let code = -errno
                pipe.close()
                FileSystem.removeFile(atPath: path)
                throw UVError(code: code, operation: "set mode 0660\(group.map { " and group \($0)" } ?? "") on \(path)")
            }
            handle = StreamHandle(pipe)
            unlinkOnClose = path
            makeClient = Listener.clientFactory(tcp: false, loop: loop)
        case .tcp(let host, let port):
            let tcp = try UVHandle<uv_tcp_t> { uv_tcp_init(loop.loop, $0) }
            var storage = sockaddr_storage()
            let parsed = withUnsafeMutableBytes(of: &storage) { raw -> Int32 in
                if host.contains(":") {
                    return uv_ip6_addr(host, Int32(port), raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self))
                }
                return uv_ip4_addr(host, Int32(port), raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self))
            }
            if parsed != 0 { tcp.close(); throw UVError(code: parsed, operation: "address \(address)") }
            let status = withUnsafeBytes(of: &storage) { raw in
                uv_tcp_bind(tcp.pointer, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), 0)
            }
            if status != 0 { tcp.close(); throw UVError(code: status, operation: "bind \(address)") }
            handle = StreamHandle(tcp)
            unlinkOnClose = nil
            makeClient = Listener.clientFactory(tcp: true, loop: loop)
        }
        try listen(backlog: backlog)
    }

    /// Adopts a listening socket passed by systemd (socket activation).
    init(adopting fd: Int32, name: String, replies: Bool, loop: EventLoop, backlog: Int32 = 128,
         onConnection: @escaping (Listener, StreamHandle) -> Void,
         onError: @escaping (Listener, UVError) -> Void) throws(UVError) {
        self.loop = loop
        self.name = name
        self.replies = replies
        self.onConnection = onConnection
        self.onError = onError
        self.unlinkOnClose = nil
        handle = try StreamHandle.adopting(fd: fd, on: loop)
        makeClient = Listener.clientFactory(tcp: uv_guess_handle(fd) == UV_TCP, loop: loop)
        try listen(backlog: backlog)
    }

    deinit { close() }

    /// Stops accepting; the socket file of a unix listener is removed.
    func close() {
        handle.close()
        if let path = unlinkOnClose { FileSystem.removeFile(atPath: path) }
    }

    private func listen(backlog: Int32) throws(UVError) {
        handle.attach(to: self)
        try uvCheck(uv_listen(handle.stream, backlog) { server, status in
            UVOwner.of(server, as: Listener.self)?.accept(status: status)
        }, "listen \(name)")
    }

    private func accept(status: Int32) {
        guard status == 0 else {
            onError(self, UVError(code: status, operation: "accept on \(name)"))
            return
        }
        do {
            let client = try makeClient()
            let accepted = uv_accept(handle.stream, client.stream)
            guard accepted == 0 else {
                client.close()
                onError(self, UVError(code: accepted, operation: "accept on \(name)"))
                return
            }
            onConnection(self, client)
        } catch {
            onError(self, error)
        }
    }

    /// Makes the handle an accepted connection lives in: the listener's own kind.
    private static func clientFactory(tcp: Bool, loop: EventLoop) -> () throws(UVError) -> StreamHandle {
        if tcp {
            return { () throws(UVError) in StreamHandle(try UVHandle<uv_tcp_t> { uv_tcp_init(loop.loop, $0) }) }
        }
        return { () throws(UVError) in StreamHandle(try UVHandle<uv_pipe_t> { uv_pipe_init(loop.loop, $0, 0) }) }
    }

    /// A unix socket file nobody listens on any more.
    private static func isStaleSocket(_ path: String) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { return false }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard probe >= 0 else { return false }
        defer { Glibc.close(probe) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8.prefix(MemoryLayout.size(ofValue: address.sun_path) - 1))
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return connected != 0
    }
}
