// The one error type of the byte-stream layer: a stream that can no longer be
// framed. It names the byte offset and the reason so the daemon's log line can
// tell an operator exactly where an input went wrong.

/// A fatal framing error in an input stream (bad LZ4 data, wrong magic, an
/// oversized or truncated record). The input is closed; others carry on.
public struct StreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Offset in the input at which the problem was found. For LZ4 errors this is
    /// an offset into the compressed bytes; for record errors, into the decompressed bytes.
    public var offset: UInt64
    /// Which layer found the problem.
    public var layer: Layer
    /// A human-readable reason, e.g. "LZ4F_decompress: ERROR_contentChecksum_invalid".
    public var reason: String

    public enum Layer: String, Sendable {
        case compression = "lz4"
        case record = "record"
    }

    public init(offset: UInt64, layer: Layer, reason: String) {
        self.offset = offset
        self.layer = layer
        self.reason = reason
    }

    public var description: String {
        let unit = layer == .compression ? "compressed byte" : "decompressed byte"
        return "\(layer.rawValue) error at \(unit) offset \(offset): \(reason)"
    }
}
