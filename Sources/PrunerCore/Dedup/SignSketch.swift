// Sign sketches: 256-bit SimHash codes of where a vector points away from a
// concept's centre — the cheap prefilter of the near-duplicate check.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A seeded pseudo-random rotation whose first 256 output coordinates' signs
/// sketch a vector.
///
/// **Why signs.** For a hyperplane through the origin in a uniformly random
/// direction, two vectors at angle θ fall on different sides with probability
/// θ/π (Charikar's SimHash), so the Hamming distance between two 256-bit
/// sketches estimates the angle, and a popcount over a member's 4 words screens
/// it in a few instructions instead of a d-dimensional dot product.
///
/// **Why a structured rotation.** 256 dense hyperplanes cost 256·d
/// multiply-adds per record (~98k at d = 384, as much as assigning to 256
/// centroids). Instead the vector, zero-padded to P = 16·blocks coordinates
/// (the power of two ≥ max(d, 256)) and laid out as `blocks` rows of 16 lanes,
/// gets random signs D₁, Walsh–Hadamard butterflies across rows (H_rows ⊗ I₁₆),
/// random signs D₂ and butterflies within the first 16 rows (I₁₆ ⊗ H₁₆): the
/// structured random rotations of FALCONN / fast JL transforms, cut to what 256
/// outputs need (butterflies within rows cost ~10× those across rows). Each
/// output is a ±1 combination of every input coordinate, the 256 hyperplanes
/// are orthogonal, and their signs are randomised per coordinate by D₁ — the
/// tests check the Hamming fraction tracks angle/π. Only the first 16 rows
/// are kept, and those of H_rows ⊗ I₁₆ are H₁₆ ⊗ I₁₆ applied to the sum of
/// the input's 16-row segments (row 0 of H_{rows/16} is all ones), so the
/// rotation folds the input into 16 rows and mixes only those: at d = 384
/// ~170 16-lane operations, all on 1 KB that stays in L1.
public struct SignSketch: Sendable, Equatable {
    /// Bits per sketch.
    public static let bits = 256
    static let vectors = bits / 16
    /// Input dimension d.
    public let dimension: Int
    /// P / 16: the rotation works on P = 16·blocks coordinates (zero-padded).
    let blocks: Int
    /// The random ±1 diagonals D₁ (`blocks` vectors) and D₂ (16 vectors).
    let signs: [SIMD16<Float>]

    /// The rotation for `dimension`, drawn from `seed` (the engine's `--seed`).
    public init(dimension: Int, seed: UInt64) {
        self.dimension = dimension
        var p = Self.bits
        while p < dimension { p *= 2 }
        blocks = p / 16
        var rng = Xoshiro256StarStar(seed: seed, stream: 7)
        signs = (0..<(blocks + Self.vectors)).map { _ in
            let r = rng.next()
            var s = SIMD16<Float>(repeating: 1)
            for l in 0..<16 where (r >> UInt64(l)) & 1 == 1 { s[l] = -1 }
            return s
        }
    }

    /// Unnormalised Walsh–Hadamard butterflies across the rows of `v` (H_{v.count} ⊗ I₁₆).
    @inline(__always)
    static func acrossRows(_ v: UnsafeMutableBufferPointer<SIMD16<Float>>) {
        var h = 1
        while h < v.count {
            for i in stride(from: 0, to: v.count, by: 2 * h) {
                for j in i..<(i + h) { let a = v[j], b = v[j + h]; v[j] = a + b; v[j + h] = a - b }
            }
            h *= 2
        }
    }

    /// Unnormalised Walsh–Hadamard transform inside each row of `v` (I_rows ⊗ H₁₆).
    @inline(__always)
    static func withinRows(_ v: UnsafeMutableBufferPointer<SIMD16<Float>>) {
        for i in v.indices {
            var x = v[i]
            for _ in 0..<4 { let e = x.evenHalf, o = x.oddHalf; x = SIMD16(lowHalf: e + o, highHalf: e - o) }
            v[i] = x
        }
    }

    /// Calls `body` with the first 256 coordinates of the rotation of `x` (16 rows, scaled
    /// by 16·√P: signs and differences of rotations are all the sketch uses).
    @inline(__always)
    func withRotation<R>(of x: UnsafePointer<Float>, _ body: (UnsafeMutableBufferPointer<SIMD16<Float>>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: SIMD16<Float>.self, capacity: Self.vectors) { kept in
            kept.initialize(repeating: .zero)
            signs.withUnsafeBufferPointer { s in
                // D₁, folding row i of the padded input onto kept row i mod 16 (see the type's doc).
                let raw = UnsafeRawPointer(x), whole = dimension / 16
                for i in 0..<whole { kept[i % 16] += raw.loadUnaligned(fromByteOffset: i * 64, as: SIMD16<Float>.self) * s[i] }
                if whole * 16 < dimension {
                    var last = SIMD16<Float>.zero
                    for l in 0..<(dimension - whole * 16) { last[l] = x[whole * 16 + l] }
                    kept[whole % 16] += last * s[whole]
                }
                Self.acrossRows(kept)
                for i in 0..<Self.vectors { kept[i] *= s[blocks + i] }
                Self.withinRows(kept)
            }
            return body(kept)
        }
    }

    /// The kept coordinates of the rotation of `x` (for a centre, computed once).
    func rotated(_ x: UnsafePointer<Float>) -> [SIMD16<Float>] {
        withRotation(of: x) { Array($0) }
    }

    /// The sketch of `x − s·c` given the rotation `rc` of the centre `c`: bit i of lane l
    /// holds the sign of coordinate 16·i + l, so packing needs no horizontal sums; words
    /// 0–1 (the head) are lanes 0–7, 128 of the 256 hyperplanes.
    func code(_ x: UnsafePointer<Float>, minus s: Float, times rc: UnsafeBufferPointer<SIMD16<Float>>) -> Code {
        withRotation(of: x) { rx in
            var bits = SIMD16<UInt32>.zero
            for i in 0..<Self.vectors {
                bits |= SIMD16<UInt32>.zero.replacing(with: SIMD16(repeating: 1 << UInt32(i)), where: rx[i] - s * rc[i] .> 0)
            }
            let lanes = SIMD16<UInt64>(truncatingIfNeeded: bits)
            let pairs = lanes.evenHalf | lanes.oddHalf &<< 16
            return pairs.evenHalf | pairs.oddHalf &<< 32
        }
    }

    /// Largest Hamming distance over the first `bits` sketch bits at which a member may
    /// still be a near-copy of a record.
    ///
    /// A near-copy y of x (cos > 1 − ε) lies within δ = √(2ε) of x, and so do their
    /// residuals off the centre (projection is non-expansive). If x's residual has norm
    /// a > δ, the two residuals are at most arcsin(δ/a) apart, so their sketches differ
    /// in Binomial(bits, p ≤ arcsin(δ/a)/π) bits; the limit is that mean + 4.5 standard
    /// deviations (a near-copy at the worst angle is missed with probability < 10⁻⁵).
    /// A record within δ of the centre's axis gets no limit: every member is checked.
    static func hammingLimit(bits n: Int, residualNorm a: Float, epsilon: Double) -> Int {
        let delta = (2 * epsilon).squareRoot() * 1.001 + 1e-4
        guard Double(a) > delta else { return n }
        let p = Double(asinf(Float(delta) / a)) / Double.pi, m = Double(n)
        return min(n, Int((m * p + 4.5 * (m * p * (1 - p)).squareRoot()).rounded(.up)))
    }

    /// A 256-bit sketch as 4 words.
    typealias Code = SIMD4<UInt64>
}
