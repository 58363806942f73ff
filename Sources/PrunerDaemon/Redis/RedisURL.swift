// The `redis://HOST:PORT/NAME?key=value` spelling shared by every Redis option
// (`--listen`, `--decisions`, `--cluster`): where the server is, which key the
// option names, and its query parameters. Parsed once, with errors a user can act on.

/// A parsed `redis://` URL.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    /// Host name or address (IPv6 without its brackets).
    public var host: String
    /// TCP port (6379 when the URL names none).
    public var port: UInt16
    /// The path after the authority without its leading `/`: a stream or pruner name; may be empty.
    public var name: String
    /// `?key=value&…` parameters, in order of appearance (no percent-decoding: keys and values are plain words).
    public var query: [(key: String, value: String)]

    /// Redis's own default port.
    public static let defaultPort: UInt16 = 6379

    /// Whether `text` is meant as a Redis URL (so callers can choose between address kinds).
    public static func isRedisURL(_ text: String) -> Bool { text.hasPrefix("redis://") }

    /// Parses `redis://HOST[:PORT][/NAME][?key=value&…]`.
    /// - Throws: `RedisURLError` naming the text and what is wrong with it.
    public init(parsing text: String) throws(RedisURLError) {
        guard text.hasPrefix("redis://") else {
            throw RedisURLError(text: text, reason: "expected redis://HOST:PORT/NAME")
        }
        var rest = Substring(text.dropFirst("redis://".count))
        var query: [(key: String, value: String)] = []
        if let mark = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: mark)...].split(separator: "&", omittingEmptySubsequences: true) {
                guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                    throw RedisURLError(text: text, reason: "query parameter '\(pair)' is not key=value")
                }
                query.append((String(pair[..<equals]), String(pair[pair.index(after: equals)...])))
            }
            rest = rest[..<mark]
        }
        var name = ""
        if let slash = rest.firstIndex(of: "/") {
            name = String(rest[rest.index(after: slash)...])
            rest = rest[..<slash]
        }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw RedisURLError(text: text, reason: "unclosed '[' in an IPv6 host")
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw RedisURLError(text: text, reason: "expected ':PORT' after ']'") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw RedisURLError(text: text, reason: "no host") }
        var port = Self.defaultPort
        if let portText {
            guard let number = UInt16(portText), number > 0 else {
                throw RedisURLError(text: text, reason: "port '\(portText)' is not a number from 1 to 65535")
            }
            port = number
        }
        self.host = String(host)
        self.port = port
        self.name = name
        self.query = query
    }

    /// The value of query parameter `key`, if given (the last one wins).
    public func parameter(_ key: String) -> String? {
        query.last { $0.key == key }?.value
    }

    /// `HOST:PORT`, for log lines.
    public var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public var description: String {
        var text = "redis://\(authority)"
        if !name.isEmpty { text += "/" + name }
        if !query.isEmpty { text += "?" + query.map { "\($0.key)=\($0.value)" }.joined(separator: "&") }
        return text
    }

    public static func == (lhs: RedisURL, rhs: RedisURL) -> Bool {
        lhs.host == rhs.host && lhs.port == rhs.port && lhs.name == rhs.name
            && lhs.query.map(\.key) == rhs.query.map(\.key) && lhs.query.map(\.value) == rhs.query.map(\.value)
    }
}

/// A `redis://` URL that could not be parsed: the text and the reason.
public struct RedisURLError: Error, CustomStringConvertible, Sendable {
    public var text: String
    public var reason: String

    public var description: String { "\(text): \(reason)" }
}
