// Embedding matrices as one input: `.npy` files, members of `.npz` archives and
// clip-retrieval folders (`img_emb/img_emb_N.npy`), read in order as shards of
// one stream, with ids and scores from files beside them. Resolved (and every
// shard's header checked) before anything is decided, so a wrong dimension or a
// missing ids file is an error at start, not after an hour.
import PrunerIO

/// One matrix read as a shard of a matrix stream.
public struct MatrixShard: Sendable {
    /// The file.
    public var path: String
    /// The `.npz` member, or nil for a `.npy` file.
    public var member: String?
    /// Where the `.npy` bytes start in the file (0 for a `.npy` file).
    public var start: UInt64
    /// How many bytes of the file they take (compressed, for a deflated member).
    public var length: UInt64
    /// Whether the bytes are DEFLATE-compressed (`numpy.savez_compressed`).
    public var deflated: Bool
    /// The matrix's header.
    public var header: NPYHeader
    /// The `src` of its decision lines.
    public var sourceName: String

    /// `path` or `path[member]`, for messages.
    public var label: String { member.map { "\(path)[\($0)]" } ?? path }
}

/// A file giving one value per row of some shards.
public struct RowFile: Sendable, Equatable {
    public var path: String
    /// Rows it must have (a per-shard sidecar), or nil when it covers the whole stream.
    public var rows: Int?

    public init(path: String, rows: Int?) {
        self.path = path
        self.rows = rows
    }
}

/// Shards read in order as one input, with where their ids and scores come from.
public struct MatrixStream: Sendable {
    public var shards: [MatrixShard]
    /// Text files, one id per line, in order; empty: the row number is the id.
    public var idFiles: [RowFile] = []
    /// `.npy` vectors (n or n × 1), in order; empty: no scores.
    public var scoreFiles: [RowFile] = []

    public init(shards: [MatrixShard]) {
        self.shards = shards
    }

    /// Rows over all shards.
    public var rows: Int { shards.reduce(0) { $0 + $1.header.rows } }
    /// The common dimension.
    public var columns: Int { shards.first?.header.columns ?? 0 }
    /// Bytes read from the files for all shards (what progress counts).
    public var byteCount: UInt64 { shards.reduce(0) { $0 + $1.length } }
}

/// A matrix input that cannot be used, said so that the user knows what to change.
public struct MatrixInputError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
