// The element types a PRN1 record's vector can be stored in.

/// A PRN1 vector element type; the raw value is the wire `dtype` byte.
///
/// Why three: producers store embeddings as float32, or halve the bytes with
/// float16 (most embedding models) or bfloat16 (models trained in bf16).
public enum ElementType: UInt8, Sendable, CaseIterable {
    case float32 = 1
    case float16 = 2
    case bfloat16 = 3

    /// Bytes per element on the wire.
    public var size: Int {
        switch self {
        case .float32: return 4
        case .float16, .bfloat16: return 2
        }
    }
}
