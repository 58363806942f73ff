// What the record decoder reports: one event per framed record, in stream order.

import PrunerCore

/// One record framed by ``RecordDecoder``.
///
/// Why an event and not a struct with an optional vector: a rejection has no
/// vector, and the daemon must log it in stream order all the same.
public enum RecordEvent {
    /// A well-formed record. `vector` is the raw (not normalised) float32
    /// vector and is valid only during the sink call; copy it to keep it.
    case record(id: String, vector: UnsafeBufferPointer<Float>, score: Float?)
    /// A record that could be framed but not used; the stream goes on.
    /// `id` is empty when it could not be read.
    case rejected(id: String, reason: RejectReason)
}

/// The record encodings ``RecordDecoder`` understands, detected from the first byte.
public enum RecordEncoding: Sendable, Equatable {
    /// Binary PRN1 records (first byte `P`).
    case prn1
    /// JSON Lines (first non-whitespace byte `{`).
    case jsonLines
    /// One or more numpy `.npy` matrices, a row per record (first byte `0x93`).
    case npy
}
