// Wire elements → Float. The hot path of PRN1 decoding: every record's vector
// passes through one of these loops, so they work on raw pointers and are
// written to vectorise (no calls, no branches per element).

/// Converts `count` little-endian elements of `type` at `source` (any
/// alignment) into `destination`.
///
/// Why not `Float(Float16(bitPattern:))`: on baseline x86_64 (no F16C) that
/// conversion is a call to compiler-rt per element; the bit manipulation below
/// is exact for every half (normals, subnormals, ±0, ±inf, NaN payloads) and
/// vectorises.
@inline(__always)
func convertElements(
    _ type: ElementType, from source: UnsafeRawPointer, count: Int,
    to destination: UnsafeMutablePointer<Float>
) {
    switch type {
    case .float32:
        for i in 0..<count {
            let bits = UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 &* i, as: UInt32.self))
            destination[i] = Float(bitPattern: bits)
        }
    case .float16:
        for i in 0..<count {
            let half = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 &* i, as: UInt16.self))
            destination[i] = floatFromHalfBits(half)
        }
    case .bfloat16:
        for i in 0..<count {
            let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 &* i, as: UInt16.self))
            destination[i] = Float(bitPattern: UInt32(bits) &<< 16)
        }
    }
}

/// IEEE half bits → Float, exactly. Shifting the exponent and mantissa into a
/// float's fields and multiplying by 2^112 rebiases the exponent (15 → 127)
/// and normalises subnormal halves in one exact multiplication; exponent 31
/// (inf/NaN) is patched to the float's all-ones exponent.
@inline(__always)
func floatFromHalfBits(_ half: UInt16) -> Float {
    let h = UInt32(half)
    let sign = (h & 0x8000) &<< 16
    let magnitude = h & 0x7FFF
    let shifted = magnitude &<< 13
    let finite = Float(bitPattern: shifted) * 0x1p112
    let special = Float(bitPattern: shifted | 0x7F80_0000)
    let value = magnitude >= 0x7C00 ? special : finite
    return Float(bitPattern: value.bitPattern | sign)
}
