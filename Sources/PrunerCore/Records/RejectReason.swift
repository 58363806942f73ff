// Why a record that arrived could not be used. Every reason is a stable,
// public log vocabulary: operators grep for these strings.

/// Why a record was rejected instead of being decided.
///
/// The raw values are the `reason` field of `reject` lines in the decision log,
/// so they are part of prunerd's public interface and must never change.
public enum RejectReason: String, Sendable, CaseIterable, Codable {
    /// The vector's dimension differs from the engine's (fixed by `--centroids` or the first valid record).
    case badDimension = "bad_dimension"
    /// The vector holds a NaN or an infinity.
    case nonFinite = "non_finite"
    /// The vector is all zeros and cannot be normalised.
    case zeroVector = "zero_vector"
    /// The id is empty, too long or not valid UTF-8.
    case badID = "bad_id"
    /// A PRN1 record names an element type prunerd does not know.
    case badDtype = "bad_dtype"
    /// A PRN1 record sets flag bits that version 1 reserves.
    case badFlags = "bad_flags"
    /// A PRN1 record's `length` disagrees with its header fields, or `dim` is 0.
    case badLength = "bad_length"
    /// A JSON Lines line is not a valid record object.
    case badJSON = "bad_json"
    /// A JSON Lines line exceeds the maximum record size.
    case tooLarge = "too_large"
}
