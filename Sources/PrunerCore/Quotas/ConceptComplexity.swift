// Concept complexity of DBP: C_j = d_inter_j · d_intra_j, and the softmax of C/τ.
#if canImport(Glibc)
import Glibc
#endif

/// What DBP knows about one concept.
public struct ConceptSummary: Sendable, Equatable {
    /// Number of members n_j.
    public var size: Int
    /// Mean cosine distance of the members to the centroid (0 for an empty concept).
    public var dIntra: Double
    /// Mean cosine distance from the centroid to its l nearest other centroids.
    public var dInter: Double
    /// d_inter · d_intra.
    public var complexity: Double
    /// softmax(C/τ) over non-empty concepts; 0 for empty ones.
    public var probability: Double
    /// Integer keep count N_j.
    public var quota: Int

    public init(size: Int, dIntra: Double, dInter: Double, complexity: Double, probability: Double, quota: Int) {
        self.size = size; self.dIntra = dIntra; self.dInter = dInter
        self.complexity = complexity; self.probability = probability; self.quota = quota
    }
}

/// The complexity terms of DBP.
public enum ConceptComplexity {
    /// d_inter for every centroid: mean (1 − cos) to its `neighbors` nearest other
    /// centroids, l capped at k − 1. With a single concept there is no other
    /// centroid; d_inter is then defined as 1 (the distance to an orthogonal
    /// direction), which leaves the ranking — and so the quotas — unaffected.
    public static func dInter(centroids: [Float], dimension d: Int, neighbors: Int) -> [Double] {
        let k = centroids.count / d
        guard k > 1 else { return [Double](repeating: 1, count: k) }
        let l = min(max(neighbors, 1), k - 1)
        let gram = Self.gram(centroids, k: k, dimension: d)
        // The l smallest distances of each row, kept sorted by insertion: the same values summed
        // in the same ascending order as sorting the whole row (that sort was a quarter of the CPU
        // of `--update online` at k = 500, where d_inter is recomputed after every centroid move).
        var out = [Double](repeating: 0, count: k)
        var nearest = [Double](repeating: 0, count: l)
        for i in 0..<k {
            var m = 0
            for j in 0..<k where j != i {
                let v = 1 - gram[i * k + j]
                if m == l && v >= nearest[l - 1] { continue }
                var t = m < l ? m : l - 1
                if m < l { m += 1 }
                while t > 0 && nearest[t - 1] > v { nearest[t] = nearest[t - 1]; t -= 1 }
                nearest[t] = v
            }
            var s = 0.0
            for t in 0..<l { s += nearest[t] }
            out[i] = s / Double(l)
        }
        return out
    }

    /// The k × k cosines of the centroids, each equal bit for bit to `VectorMath.dot` of its pair.
    ///
    /// Four rows against one at a time: each centroid row is loaded once for four products
    /// (the same lane-wise multiply-adds as `VectorMath.dot`, in the same order). With online
    /// updates this runs after every centroid move, so it was a quarter of the CPU at k = 500.
    static func gram(_ centroids: [Float], k: Int, dimension d: Int) -> [Double] {
        var gram = [Double](repeating: 0, count: k * k)
        let whole = d / 16 * 16
        centroids.withUnsafeBufferPointer { c in
            let base = UnsafeRawPointer(c.baseAddress!)
            @inline(__always) func load(_ row: Int, _ t: Int) -> SIMD16<Float> {
                base.loadUnaligned(fromByteOffset: (row * d + t) * 4, as: SIMD16<Float>.self)
            }
            @inline(__always) func finish(_ acc: SIMD16<Float>, _ a: Int, _ b: Int) {
                var s = acc.sum()
                for t in whole..<d { s += c[a * d + t] * c[b * d + t] }
                gram[a * k + b] = Double(s); gram[b * k + a] = Double(s)
            }
            var i = 0
            while i + 4 <= k {
                for j in i..<k {
                    var a0 = SIMD16<Float>.zero, a1 = a0, a2 = a0, a3 = a0
                    var t = 0
                    while t < whole {
                        let y = load(j, t)
                        a0 += load(i, t) * y; a1 += load(i + 1, t) * y
                        a2 += load(i + 2, t) * y; a3 += load(i + 3, t) * y
                        t += 16
                    }
                    finish(a0, i, j); finish(a1, i + 1, j); finish(a2, i + 2, j); finish(a3, i + 3, j)
                }
                i += 4
            }
            for r in i..<k {
                for j in r..<k {
                    let s = Double(VectorMath.dot(c.baseAddress! + r * d, c.baseAddress! + j * d, d))
                    gram[r * k + j] = s; gram[j * k + r] = s
                }
            }
        }
        return gram
    }

    /// softmax(C/τ) over the concepts with `size > 0`; empty concepts get 0.
    public static func probabilities(complexity: [Double], sizes: [Int], temperature tau: Double) -> [Double] {
        var maxC = -Double.infinity
        for j in complexity.indices where sizes[j] > 0 { maxC = max(maxC, complexity[j]) }
        guard maxC.isFinite else { return [Double](repeating: 0, count: complexity.count) }
        var p = complexity.indices.map { j in sizes[j] > 0 ? Glibc.exp((complexity[j] - maxC) / tau) : 0 }
        let z = p.reduce(0, +)
        for j in p.indices { p[j] /= z }
        return p
    }

    /// Complexities, probabilities and integer quotas for total `m`.
    public static func summaries(
        sizes: [Int], dIntra: [Double], dInter: [Double], total m: Int, options: PruningOptions
    ) -> [ConceptSummary] {
        let k = sizes.count
        let c = (0..<k).map { j in dInter[j] * dIntra[j] }
        let p = probabilities(complexity: c, sizes: sizes, temperature: options.temperature)
        let floors = QuotaProjection.floors(sizes: sizes, total: m, minPerCluster: options.minPerCluster)
        let q = QuotaProjection.quotas(probabilities: p, sizes: sizes, total: m, floors: floors)
        return (0..<k).map { j in
            ConceptSummary(size: sizes[j], dIntra: dIntra[j], dInter: dInter[j], complexity: c[j], probability: p[j], quota: q[j])
        }
    }
}
