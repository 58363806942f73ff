// Spherical k-means: k-means++ seeding with cosine distance, then Lloyd
// iterations that assign by largest inner product and re-normalise means.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Spherical k-means on unit vectors.
public enum SphericalKMeans {
    /// Fits k unit centroids to `vectors` (`n × dimension`, rows L2-normalised).
    ///
    /// Seeding is k-means++ with D² sampling on the cosine distance `1 − cos`
    /// (seeded). Lloyd iterations assign each row to the centroid of largest
    /// inner product ([`NearestCentroid`]) and set each centroid to the
    /// normalised mean of its members. An empty cluster is re-seeded with the
    /// row farthest from its own centroid (ties: lowest row), each row used at
    /// most once per iteration. Stops when no assignment changes or after
    /// `iterations` rounds. If `k > n`, the extra centroids repeat rows (they stay empty).
    ///
    /// `kernel` shapes the assignment code only (every choice assigns alike).
    ///
    /// - Returns: `k × dimension` centroids, row-major.
    public static func fit(vectors: [Float], dimension d: Int, k: Int, iterations: Int, seed: UInt64,
                           kernel: KernelChoice = .fastest) -> [Float] {
        let n = vectors.count / d
        precondition(k >= 1 && n >= 1)
        var centroids = seedPlusPlus(vectors: vectors, dimension: d, k: k, seed: seed)
        var previous = [Int32](repeating: -1, count: n)
        for _ in 0..<max(iterations, 1) {
            let (assign, sim) = NearestCentroid(centroids: centroids, dimension: d, kernel: kernel).assign(rows: vectors)
            if assign == previous { break }
            previous = assign
            var sums = [Float](repeating: 0, count: k * d)
            var counts = [Int](repeating: 0, count: k)
            vectors.withUnsafeBufferPointer { v in
                sums.withUnsafeMutableBufferPointer { s in
                    for i in 0..<n {
                        let j = Int(assign[i]); counts[j] += 1
                        let src = v.baseAddress! + i * d, dst = s.baseAddress! + j * d
                        for t in 0..<d { dst[t] += src[t] }
                    }
                }
            }
            let empties = (0..<k).filter { counts[$0] == 0 }
            if !empties.isEmpty {
                // Farthest rows first (largest 1 − cos), ties by lowest row index.
                let far = (0..<n).sorted { a, b in sim[a] != sim[b] ? sim[a] < sim[b] : a < b }
                for (e, j) in empties.enumerated() where e < n {
                    let i = far[e]
                    for t in 0..<d { sums[j * d + t] = vectors[i * d + t] }
                    counts[j] = 1
                }
            }
            for j in 0..<k where counts[j] > 0 {
                for t in 0..<d { centroids[j * d + t] = sums[j * d + t] }
            }
            VectorMath.normaliseRows(&centroids, d)
        }
        return centroids
    }

    /// k-means++ seeding with D² sampling on `1 − cos`, by *coordinated* draws.
    ///
    /// Each draw is an exponential race: step c picks the row minimising
    /// `−log(u_i,c) / D²_i`, which samples rows with probability ∝ D²_i as
    /// k-means++ asks. The uniform `u_i,c` is a hash of the row's content (its
    /// sign pattern, see `rowKeys`), the seed and c, not the next number of a generator, so the choice does not
    /// depend on the rows' order or on which other rows are present: a run over
    /// a subset of the rows (the streaming warm-up) draws the same seeds as a
    /// run over all of them wherever its D² agree, and its k-means converges
    /// to the optimum the full run finds rather than to another seed's.
    static func seedPlusPlus(vectors: [Float], dimension d: Int, k: Int, seed: UInt64) -> [Float] {
        let n = vectors.count / d
        let keys = rowKeys(vectors, dimension: d, seed: seed)
        var centroids = [Float](); centroids.reserveCapacity(k * d)
        var first = race(keys, step: 0, weights: nil)
        var dist = [Double](repeating: .infinity, count: n)
        for c in 0..<k {
            centroids.append(contentsOf: vectors[(first * d)..<(first * d + d)])
            if c == k - 1 { break }
            var total = 0.0
            vectors.withUnsafeBufferPointer { v in
                let cp = v.baseAddress! + first * d
                for i in 0..<n {
                    let dd = max(0, 1 - Double(VectorMath.dot(v.baseAddress! + i * d, cp, d)))
                    let squared = dd * dd
                    if squared < dist[i] { dist[i] = squared }
                    total += dist[i]
                }
            }
            // All rows coincide with chosen centres: a uniform draw.
            first = race(keys, step: UInt64(c + 1), weights: total > 0 ? dist : nil)
        }
        return centroids
    }

    /// A 64-bit key per row: a hash of the seed and the row's sign pattern
    /// (which components are > 0). Signs, not float bits: the same record sent
    /// as float16, float32, bfloat16 or JSON normalises to vectors that differ
    /// in their last bits but not in their signs, so it gets the same key and
    /// k-means the same seeds (a component would have to round to zero to flip).
    static func rowKeys(_ vectors: [Float], dimension d: Int, seed: UInt64) -> [UInt64] {
        let n = vectors.count / d
        var keys = [UInt64](repeating: 0, count: n)
        vectors.withUnsafeBufferPointer { v in
            for i in 0..<n {
                var mixer = SplitMix64(seed: seed ^ 0x6A09_E667_F3BC_C908)
                var h = mixer.next()
                var t = 0
                while t < d {
                    var word: UInt64 = 0
                    for b in 0..<min(64, d - t) where v[i * d + t + b] > 0 { word |= 1 << UInt64(b) }
                    mixer = SplitMix64(seed: h ^ word)
                    h = mixer.next()
                    t += 64
                }
                keys[i] = h
            }
        }
        return keys
    }

    /// The row winning step `step`'s exponential race: least `−log(u) / w`
    /// (rows of weight 0 never win; no weights: least `−log(u)`, uniform).
    /// Ties, which need equal keys, go to the lower key, then the lower row.
    static func race(_ keys: [UInt64], step: UInt64, weights: [Double]?) -> Int {
        var best = 0
        var bestScore = Double.infinity
        var bestKey = UInt64.max
        let salt = (step &+ 1) &* 0x9E37_79B9_7F4A_7C15
        for i in keys.indices {
            let w = weights?[i] ?? 1
            guard w > 0 else { continue }
            var draw = SplitMix64(seed: keys[i] ^ salt)
            let bits = draw.next()
            let u = (Double(bits >> 11) + 0.5) * 0x1.0p-53
            let score = -log(u) / w
            if score < bestScore || (score == bestScore && keys[i] < bestKey) {
                best = i; bestScore = score; bestKey = keys[i]
            }
        }
        return best
    }
}
