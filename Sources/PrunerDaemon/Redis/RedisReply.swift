// What a Redis command answers, as Swift values copied out of hiredis's reply
// tree (which hiredis frees when the callback returns), and why a command got no answer.

/// One reply of the RESP2 protocol (what hiredis 0.14 speaks).
public enum RedisReply: Sendable, Equatable {
    /// A nil bulk string or nil array (e.g. `XREADGROUP … BLOCK` that timed out with nothing new).
    case null
    case integer(Int64)
    /// A bulk string: binary-safe bytes.
    case string([UInt8])
    /// A status line such as `OK`.
    case status(String)
    /// An error line such as `BUSYGROUP Consumer Group name already exists`. A reply,
    /// not a transport failure: the server answered.
    case error(String)
    case array([RedisReply])

    /// The error line, if this is an error reply.
    public var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }

    /// A bulk string or status as text (lossy for non-UTF-8 bytes), else nil.
    public var text: String? {
        switch self {
        case .string(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let text): return text
        default: return nil
        }
    }

    /// The elements of an array reply, else nil.
    public var elements: [RedisReply]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// The integer of an integer reply, else nil.
    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }
}

/// Why a command got no reply. Every one of these means: the command may or may not
/// have run on the server (a write sent before the connection broke may have been applied).
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not connected (the server is unreachable; the client retries with backoff).
    case unavailable(String)
    /// The connection broke before the reply came.
    case connectionLost(String)
    /// No reply within the command's timeout; the connection was dropped and is re-made.
    case timedOut(seconds: Double)
    /// The client was closed (the daemon is stopping).
    case closed

    public var description: String {
        switch self {
        case .unavailable(let reason): return "not connected (\(reason))"
        case .connectionLost(let reason): return "connection lost (\(reason))"
        case .timedOut(let seconds): return "no reply within \(seconds) s"
        case .closed: return "client closed"
        }
    }
}

/// An argument of a Redis command: sent as a binary-safe bulk string.
public protocol RedisArgument {
    /// The bytes sent.
    var redisBytes: [UInt8] { get }
}

extension String: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}

extension Array: RedisArgument where Element == UInt8 {
    public var redisBytes: [UInt8] { self }
}

extension Int: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}
