// What `--listen redis://HOST:PORT/STREAM?group=NAME` asks for, checked once at start.
#if canImport(Glibc)
import Glibc
#endif

/// A Redis stream read through a consumer group (`--listen redis://…`).
public struct RedisStreamConfiguration: Sendable {
    /// The server and the stream (`url.name`).
    public var url: RedisURL
    /// The consumer group (`?group=`, default `prunerd`): shards of one group share the stream's entries.
    public var group: String
    /// This daemon's name in the group (`--consumer`; default host name and pid). A restart
    /// with the same name reads its own pending entries first.
    public var consumer: String
    /// `--claim-after`: seconds a pending entry of another consumer may sit idle before this
    /// one takes it over (XAUTOCLAIM); nil: never take others' entries.
    public var claimAfter: Double?
    /// Entries asked for per XREADGROUP: reading pauses with the daemon's backpressure
    /// between reads, so this bounds how far one read overshoots it.
    public var count = 16
    /// Seconds one XREADGROUP waits on the server for new entries.
    public var block = 1.0

    /// The group used when the URL names none.
    public static let defaultGroup = "prunerd"

    /// - Throws: `RedisURLError` when the URL names no stream or has a parameter other than `group`.
    public init(url: RedisURL, consumer: String? = nil, claimAfter: Double? = nil) throws(RedisURLError) {
        guard !url.name.isEmpty else {
            throw RedisURLError(text: url.description, reason: "no stream name: expected redis://HOST:PORT/STREAM?group=NAME")
        }
        for parameter in url.query where parameter.key != "group" {
            throw RedisURLError(text: url.description, reason: "unknown parameter '\(parameter.key)' (only group=NAME)")
        }
        let group = url.parameter("group") ?? Self.defaultGroup
        guard !group.isEmpty else { throw RedisURLError(text: url.description, reason: "empty group name") }
        self.url = url
        self.group = group
        self.consumer = consumer ?? Self.defaultConsumer()
        self.claimAfter = claimAfter
    }

    /// The stream's key.
    public var stream: String { url.name }

    /// `HOST-PID`: unique among live processes, so two daemons on one host never share pending entries.
    public static func defaultConsumer() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let host = gethostname(&buffer, buffer.count) == 0 ? String(cString: buffer) : "prunerd"
        return "\(host)-\(getpid())"
    }
}
