// Near-duplicate detection (SemDeDup within a concept) with bounded memory.

/// The vectors one concept remembers for the streaming near-duplicate check.
///
/// **What is remembered.** A ring of the `capacity` most recent members that
/// were not themselves near-copies of a remembered one, plus duplicates that
/// extend the group's reach (similarity to their match below 1 − ε/2), so a
/// chain a ≈ b ≈ c is still caught at c. In concept order copies arrive close
/// together, which a ring of the most recent catches best; in shuffled order a
/// concept of n_j members seen so far is covered in full while n_j ≤ capacity,
/// and for larger concepts a copy is caught when its original is among the last
/// `capacity` remembered members (recall ≈ capacity / n_j for those). Members
/// are stored as float16 with the inverse of their (float16) norm: the cosine
/// to a stored member is then off by at most the float16 rounding angle
/// (~3·10⁻⁴ rad, < 10⁻⁴ in cosine near 1 − ε = 0.95, ~10⁻⁸ for exact copies),
/// so only pairs that close to the threshold can flip.
///
/// **How a record is checked.** Each member keeps a 256-bit [`SignSketch`] of
/// its residual off the concept's centre c (x − (x·c)·c: the part that tells
/// members of one concept apart — the raw members of a tight concept all point
/// nearly the same way, their residuals do not). A record's sketch is compared
/// with every member's by popcount, over the first 128 bits and over all 256,
/// and only members within both Hamming limits
/// (`SignSketch.hammingLimit`, each missing a near-copy with probability
/// < 10⁻⁵) get the exact cosine. Every duplicate verdict is an exact cosine (to
/// float16 rounding), so precision is that of exact SemDeDup; recall loses only
/// screened-out near-copies. The centre is the concept's centroid when the
/// memory was first used, frozen so stored sketches stay comparable while
/// centroids move.
///
/// **Cost.** Memory: capacity·(2d + 36) bytes at most. Per record: one rotation
/// (~170 16-lane operations at d = 384), a 32-byte popcount compare per
/// remembered member (4 members per 512-bit operation, 32 per branch), and a
/// d-dimensional dot product per candidate (~0.5 per record on the benchmark's
/// synthetic stream). The compare is bound by reading the sketches from memory,
/// which `check(rows:…)` does once per run and concept rather than once per row.
public struct DedupMemory: Sendable, Equatable {
    /// The rotation all concepts' sketches share.
    public let sketch: SignSketch
    /// Most members remembered (`--dedup-memory`).
    public let capacity: Int
    /// Unit centre the residuals are taken from (empty until the first check).
    var center: [Float] = []
    /// The centre's rotation (derived from `center`).
    var rotatedCenter: [SIMD16<Float>] = []
    /// Remembered rows, row-major (up to `capacity`).
    var vectors: [Float16] = []
    /// 1 / norm of each remembered row as stored.
    var inverseNorms: [Float] = []
    /// Sketches in blocks of 8 members: word w of member m at 32·(m / 8) + 8·w + m % 8,
    /// so one 8-lane load holds the same word of 8 members; allocated 32 members at a time.
    var sketches: [UInt64] = []
    /// Number of remembered members.
    public private(set) var count = 0
    /// Next ring slot to overwrite once full.
    var next = 0

    /// An empty memory.
    public init(sketch: SignSketch, capacity: Int) {
        self.sketch = sketch
        self.capacity = capacity
    }

    var dimension: Int { sketch.dimension }

    /// Forgets every member and the centre (a retired concept's slot is reused).
    public mutating func removeAll() {
        self = DedupMemory(sketch: sketch, capacity: capacity)
    }

    mutating func setCenter(_ c: ArraySlice<Float>) {
        center = Array(c)
        rotatedCenter = center.withUnsafeBufferPointer { sketch.rotated($0.baseAddress!) }
    }

    /// What the memory keeps of a row besides its float16 values, computed from those values
    /// (so a restored memory recomputes exactly what it had).
    struct Encoded {
        var code: SignSketch.Code
        /// Norm of the row's residual off the centre (sets the Hamming limits).
        var residualNorm: Float
        /// 1 / norm of the float16 row.
        var inverseNorm: Float
    }

    /// Encodes `x` as it will be stored (narrowed to float16).
    func encode(_ x: UnsafePointer<Float>) -> Encoded {
        let d = dimension
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: d) { stored in
            withUnsafeTemporaryAllocation(of: Float16.self, capacity: d) { half in
                Self.narrow(x, into: half.baseAddress!, d)
                for t in 0..<d { stored[t] = Float(half[t]) }
            }
            let row = UnsafePointer(stored.baseAddress!)
            let s = center.withUnsafeBufferPointer { VectorMath.dot(row, $0.baseAddress!, d) }
            let code = rotatedCenter.withUnsafeBufferPointer { sketch.code(row, minus: s, times: $0) }
            return Encoded(code: code, residualNorm: max(0, 1 - s * s).squareRoot(),
                           inverseNorm: 1 / VectorMath.dot(row, row, d).squareRoot())
        }
    }

    /// Dot product of a float row and a float16 row.
    @inline(__always)
    static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float16>, _ d: Int) -> Float {
        var acc = SIMD16<Float>.zero
        var t = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
        while t + 16 <= d {
            acc.addProduct(rx.loadUnaligned(fromByteOffset: t * 4, as: SIMD16<Float>.self),
                           SIMD16<Float>(ry.loadUnaligned(fromByteOffset: t * 2, as: SIMD16<Float16>.self)))
            t += 16
        }
        var s = acc.sum()
        while t < d { s += x[t] * Float(y[t]); t += 1 }
        return s
    }

    /// The largest cosine between `x` and a member whose sketch is within the limits of `code`
    /// (`headLimit` over words 0–1, `limit` over all four; −∞ if none is), or the first
    /// such cosine ≥ `enough` (past it, which member matched changes no decision).
    func bestSimilarity(_ x: UnsafePointer<Float>, code: SignSketch.Code, headLimit: Int, limit: Int, enough: Float) -> Float {
        var best = -Float.infinity
        guard count > 0 else { return best }
        let d = dimension
        let q0 = SIMD8<UInt64>(repeating: code[0]), q1 = SIMD8<UInt64>(repeating: code[1])
        let q2 = SIMD8<UInt64>(repeating: code[2]), q3 = SIMD8<UInt64>(repeating: code[3])
        let headBound = SIMD8<UInt64>(repeating: UInt64(headLimit)), bound = SIMD8<UInt64>(repeating: UInt64(limit))
        vectors.withUnsafeBufferPointer { v in
            sketches.withUnsafeBufferPointer { h in
                let raw = UnsafeRawPointer(h.baseAddress!)
                /// The members of block `b` within both limits.
                @inline(__always) func near(_ b: Int) -> SIMDMask<SIMD8<Int64>> {
                    let at = b * 256
                    let head = (raw.loadUnaligned(fromByteOffset: at, as: SIMD8<UInt64>.self) ^ q0).nonzeroBitCount
                        &+ (raw.loadUnaligned(fromByteOffset: at + 64, as: SIMD8<UInt64>.self) ^ q1).nonzeroBitCount
                    let full = head &+ (raw.loadUnaligned(fromByteOffset: at + 128, as: SIMD8<UInt64>.self) ^ q2).nonzeroBitCount
                        &+ (raw.loadUnaligned(fromByteOffset: at + 192, as: SIMD8<UInt64>.self) ^ q3).nonzeroBitCount
                    return (head .<= headBound) .& (full .<= bound)
                }
                // Both limits for 32 members at a time in vector registers and one branch,
                // almost never taken: testing the 128-bit head alone and the rest only where
                // it passed (~2% of members) cost more in mispredicted branches than it saved.
                scan: for group in 0..<((count + 31) / 32) {
                    guard any(near(4 * group) .| near(4 * group + 1) .| near(4 * group + 2) .| near(4 * group + 3)) else { continue }
                    for b in (4 * group)..<(4 * group + 4) {
                        let mask = near(b)
                        for l in 0..<max(0, min(8, count - b * 8)) where mask[l] {
                            let m = b * 8 + l
                            let s = Self.dot(x, v.baseAddress! + m * d, d) * inverseNorms[m]
                            if s > best { best = s }
                            if s >= enough { break scan }
                        }
                    }
                }
            }
        }
        return best
    }

    /// Writes `row` narrowed to float16 into `out` (exact for float16-exact values).
    @inline(__always)
    static func narrow(_ row: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float16>, _ d: Int) {
        var t = 0
        let r = UnsafeRawPointer(row), o = UnsafeMutableRawPointer(out)
        while t + 16 <= d {
            o.storeBytes(of: SIMD16<Float16>(r.loadUnaligned(fromByteOffset: t * 4, as: SIMD16<Float>.self)),
                         toByteOffset: t * 2, as: SIMD16<Float16>.self)
            t += 16
        }
        while t < d { out[t] = Float16(row[t]); t += 1 }
    }

    /// Remembers `x` (narrowed to float16, encoded as `e`), overwriting the oldest member once full.
    mutating func insert(_ x: UnsafePointer<Float>, _ e: Encoded) {
        let d = dimension
        let slot = count < capacity ? count : next
        if count < capacity {
            if count == 0 { vectors.reserveCapacity(capacity * d) }
            withUnsafeTemporaryAllocation(of: Float16.self, capacity: d) { half in
                Self.narrow(x, into: half.baseAddress!, d)
                vectors.append(contentsOf: half)
            }
            inverseNorms.append(e.inverseNorm)
            if count % 32 == 0 { sketches.append(contentsOf: repeatElement(0, count: 128)) }
            count += 1
        } else {
            vectors.withUnsafeMutableBufferPointer { Self.narrow(x, into: $0.baseAddress! + slot * d, d) }
            inverseNorms[slot] = e.inverseNorm
            next = (next + 1) % capacity
        }
        let at = 32 * (slot / 8) + slot % 8
        for w in 0..<4 { sketches[at + 8 * w] = e.code[w] }
    }

    /// Checks `x` against the memory and remembers it when useful.
    /// - Parameter centroid: the concept's current centroid; it becomes the centre when the memory is empty.
    /// - Returns: true when `x` is a near-copy (cosine > 1 − ε) of a remembered member.
    public mutating func check(_ x: UnsafeBufferPointer<Float>, centroid: ArraySlice<Float>, epsilon: Double) -> Bool {
        if center.isEmpty { setCenter(centroid) }
        let e = encode(x.baseAddress!)
        let headLimit = SignSketch.hammingLimit(bits: SignSketch.bits / 2, residualNorm: e.residualNorm, epsilon: epsilon)
        let limit = SignSketch.hammingLimit(bits: SignSketch.bits, residualNorm: e.residualNorm, epsilon: epsilon)
        let extending = Float(1 - epsilon / 2)
        let best = bestSimilarity(x.baseAddress!, code: e.code, headLimit: headLimit, limit: limit, enough: extending)
        let duplicate = best > Float(1 - epsilon)
        if !duplicate || best < extending { insert(x.baseAddress!, e) }
        return duplicate
    }

    /// Rebuilds from checkpointed parts (the centre, the ring's rows in slot order and
    /// its next slot); the sketches are recomputed exactly as they were first computed.
    init(sketch: SignSketch, capacity: Int, center: [Float], vectors: [Float16], next: Int) {
        self.init(sketch: sketch, capacity: capacity)
        guard !center.isEmpty else { return }
        setCenter(center[...])
        let d = dimension
        withUnsafeTemporaryAllocation(of: Float.self, capacity: d) { row in
            for m in 0..<(vectors.count / d) {
                for t in 0..<d { row[t] = Float(vectors[m * d + t]) }
                let e = encode(row.baseAddress!)
                insert(row.baseAddress!, e)
            }
        }
        self.next = next
    }
}
