// Spherical k-means: k-means++ seeding with cosine distance, then Lloyd
// iterations that assign by largest inner product and re-normalise means.

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
    /// - Returns: `k × dimension` centroids, row-major.
    public static func fit(vectors: [Float], dimension d: Int, k: Int, iterations: Int, seed: UInt64) -> [Float] {
        let n = vectors.count / d
        precondition(k >= 1 && n >= 1)
        var centroids = seedPlusPlus(vectors: vectors, dimension: d, k: k, seed: seed)
        var previous = [Int32](repeating: -1, count: n)
        for _ in 0..<max(iterations, 1) {
            let (assign, sim) = NearestCentroid(centroids: centroids, dimension: d).assign(rows: vectors)
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

    /// k-means++ seeding with D² sampling on `1 − cos`.
    static func seedPlusPlus(vectors: [Float], dimension d: Int, k: Int, seed: UInt64) -> [Float] {
        let n = vectors.count / d
        var rng = Xoshiro256StarStar(seed: seed, stream: 1)
        var centroids = [Float](); centroids.reserveCapacity(k * d)
        var first = rng.nextInt(below: n)
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
            if total <= 0 {
                first = rng.nextInt(below: n)      // all rows coincide with chosen centres
                continue
            }
            var u = rng.nextUnit() * total
            var pick = n - 1
            for i in 0..<n {
                u -= dist[i]
                if u < 0 { pick = i; break }
            }
            first = pick
        }
        return centroids
    }
}
