// Record ids arrive as bytes and must be valid UTF-8 to become Strings.

/// The string of `bytes` if they are valid UTF-8, else nil.
///
/// Why not `String(validating:as:)` alone: it runs unspecialised here (generic
/// metadata lookups per call, a few percent of all CPU at 300k records/s).
/// Ids are nearly always ASCII, which needs no validation at all.
func validatedUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
    var high: UInt8 = 0
    for byte in bytes { high |= byte }
    if high < 0x80 { return String(decoding: bytes, as: UTF8.self) }
    return String(validating: bytes, as: UTF8.self)
}
