// Near-duplicate detection (SemDeDup within a concept) with bounded memory.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The vectors one concept remembers for the streaming near-duplicate check.
///
/// **What is remembered.** A ring of the `capacity` most recent members that
/// were not themselves near-copies of a remembered one, plus duplicates that
/// extend the group's reach (similarity to their match below 1 − ε/2), so a
/// chain a ≈ b ≈ c is still caught at c. In concept order copies arrive close
/// together, which a ring of the most recent catches best; in shuffled order a
/// concept of n_j members seen so far is covered in full while n_j ≤ capacity,
/// and for larger concepts a copy is caught when its original is among the last
/// `capacity` remembered members (recall ≈ capacity / n_j for those).
///
/// **Cost.** Memory ≤ capacity·d·4 bytes (+ 32 bytes per member). Per record:
/// 8 pivot dot products (8·d flops), then one 8-lane compare per remembered
/// member, and a full d-flop dot product only for members that pass the pivot
/// filter. The filter is exact (never loses a true match): on the unit sphere
/// angles obey the triangle inequality, so cos(x, y) > 1 − ε implies
/// |∠(x, p) − ∠(y, p)| ≤ arccos(1 − ε) for every pivot p. Pivots are the
/// concept's first 8 remembered members.
public struct DedupMemory: Sendable, Equatable {
    public static let pivotCount = 8
    public let dimension: Int
    public let capacity: Int
    /// Remembered rows, row-major (up to `capacity`).
    var vectors: [Float] = []
    /// Per remembered row, its angle to each pivot (0 in lanes without a pivot yet).
    var angles: [SIMD8<Float>] = []
    /// Pivot rows (up to 8).
    var pivots: [Float] = []
    /// Next ring slot to overwrite once full.
    var next = 0

    public init(dimension: Int, capacity: Int) {
        self.dimension = dimension
        self.capacity = capacity
    }

    public var count: Int { angles.count }
    var pivotRows: Int { pivots.count / dimension }

    @inline(__always) static func angle(_ c: Float) -> Float { acosf(min(max(c, -1), 1)) }

    /// Angles of `x` to the pivots.
    func pivotAngles(_ x: UnsafePointer<Float>) -> SIMD8<Float> {
        var a = SIMD8<Float>.zero
        let d = dimension
        pivots.withUnsafeBufferPointer { p in
            for k in 0..<pivotRows { a[k] = Self.angle(VectorMath.dot(x, p.baseAddress! + k * d, d)) }
        }
        return a
    }

    /// The largest cosine between `x` and a remembered member that may exceed `bound` (−∞ if none can).
    func bestSimilarity(_ x: UnsafePointer<Float>, angles xa: SIMD8<Float>, bound: Float) -> Float {
        let window = SIMD8<Float>(repeating: Self.angle(bound) + 4e-3)
        var best = -Float.infinity
        let d = dimension
        vectors.withUnsafeBufferPointer { v in
            angles.withUnsafeBufferPointer { a in
                for m in 0..<a.count {
                    let diff = a[m] - xa
                    if any(diff .> window) || any(diff .< -window) { continue }
                    let s = VectorMath.dot(x, v.baseAddress! + m * d, d)
                    if s > best { best = s }
                }
            }
        }
        return best
    }

    /// Remembers `x` (whose pivot angles are `xa`); may make it a pivot.
    mutating func insert(_ x: UnsafeBufferPointer<Float>, angles xa: SIMD8<Float>) {
        let d = dimension
        var a = xa
        if pivotRows < Self.pivotCount {
            let k = pivotRows
            pivots.append(contentsOf: x)
            a[k] = 0
            vectors.withUnsafeBufferPointer { v in
                for m in 0..<angles.count {
                    angles[m][k] = Self.angle(VectorMath.dot(x.baseAddress!, v.baseAddress! + m * d, d))
                }
            }
        }
        if angles.count < capacity {
            vectors.append(contentsOf: x)
            angles.append(a)
        } else {
            for t in 0..<d { vectors[next * d + t] = x[t] }
            angles[next] = a
            next = (next + 1) % capacity
        }
    }

    /// Checks `x` against the memory and remembers it when useful.
    /// - Returns: true when `x` is a near-copy (cosine > 1 − ε) of a remembered member.
    mutating func check(_ x: UnsafeBufferPointer<Float>, epsilon: Double) -> Bool {
        let bound = Float(1 - epsilon)
        let xa = pivotAngles(x.baseAddress!)
        let best = bestSimilarity(x.baseAddress!, angles: xa, bound: bound)
        let duplicate = best > bound
        if !duplicate || best < Float(1 - epsilon / 2) { insert(x, angles: xa) }
        return duplicate
    }

    /// Rebuilds from checkpointed parts.
    init(dimension: Int, capacity: Int, vectors: [Float], angles: [Float], pivots: [Float], next: Int) {
        self.init(dimension: dimension, capacity: capacity)
        self.vectors = vectors
        self.angles = stride(from: 0, to: angles.count, by: 8).map { i in SIMD8<Float>(angles[i..<(i + 8)]) }
        self.pivots = pivots
        self.next = next
    }

    var flatAngles: [Float] { angles.flatMap { a in (0..<8).map { a[$0] } } }
}

/// Exact SemDeDup and the measures that compare the streaming check with it.
public enum DedupEvaluation {
    /// Exact duplicates in stream order: row i is a duplicate when an earlier row
    /// of the same concept has cosine > 1 − ε with it (all pairs, O(Σ n_j²·d)).
    /// Rows with a negative concept are ignored.
    public static func exactDuplicates(vectors: [Float], dimension d: Int, concepts: [Int32], epsilon: Double) -> [Bool] {
        let n = concepts.count
        let bound = Float(1 - epsilon)
        var byConcept = [Int32: [Int]]()
        for i in 0..<n where concepts[i] >= 0 { byConcept[concepts[i], default: []].append(i) }
        var dup = [Bool](repeating: false, count: n)
        vectors.withUnsafeBufferPointer { v in
            for (_, rows) in byConcept {
                for (a, i) in rows.enumerated() {
                    for b in 0..<a where VectorMath.dot(v.baseAddress! + i * d, v.baseAddress! + rows[b] * d, d) > bound {
                        dup[i] = true; break
                    }
                }
            }
        }
        return dup
    }

    /// Recall |S ∩ E| / |E| and precision |S ∩ E| / |S| of streaming flags S against exact flags E.
    public static func recallPrecision(streaming s: [Bool], exact e: [Bool]) -> (recall: Double, precision: Double) {
        var both = 0, ns = 0, ne = 0
        for i in s.indices { if s[i] { ns += 1 }; if e[i] { ne += 1; if s[i] { both += 1 } } }
        return (ne > 0 ? Double(both) / Double(ne) : 1, ns > 0 ? Double(both) / Double(ns) : 1)
    }

    /// Offline SemDeDup within one concept, as in the reference: members sorted by
    /// distance to the centroid, farthest first (ties: lower row); a member is a
    /// duplicate when a member earlier in that order has cosine > 1 − ε with it.
    /// So each group of near-copies keeps its member farthest from the centroid.
    public static func semDeDup(vectors: [Float], dimension d: Int, members: [Int], distances: [Float], epsilon: Double) -> [Int] {
        let order = members.sorted { a, b in distances[a] != distances[b] ? distances[a] > distances[b] : a < b }
        let bound = Float(1 - epsilon)
        var dropped = [Int]()
        vectors.withUnsafeBufferPointer { v in
            for (a, i) in order.enumerated() {
                for b in 0..<a where VectorMath.dot(v.baseAddress! + i * d, v.baseAddress! + order[b] * d, d) > bound {
                    dropped.append(i); break
                }
            }
        }
        return dropped
    }
}
