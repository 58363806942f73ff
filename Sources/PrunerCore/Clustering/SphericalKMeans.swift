// Spherical k-means: k-means++ seeding with cosine distance, then Lloyd
// iterations that assign by largest inner product and re-normalise means.
import Dispatch
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
    /// `kernel` shapes the assignment code only (every choice assigns alike), and
    /// `threads` only splits the work: seeding and assignment split rows between
    /// threads that each compute their rows exactly as one thread would, so the
    /// centroids are the same bit for bit whatever the count.
    ///
    /// - Returns: `k × dimension` centroids, row-major.
    public static func fit(vectors: [Float], dimension d: Int, k: Int, iterations: Int, seed: UInt64,
                           kernel: KernelChoice = .fastest, threads: Int = 1) -> [Float] {
        fitted(vectors: vectors, dimension: d, k: k, iterations: iterations, seed: seed, kernel: kernel, threads: threads).centroids
    }

    /// What a fit did, for the operator's log: an offline run or a warm-up that stops at
    /// the iteration cap rather than at convergence is worth knowing about.
    public struct FitSummary: Sendable, Equatable, CustomStringConvertible {
        /// Rows clustered.
        public var rows: Int
        /// Lloyd updates made (assignment passes that changed some row's concept).
        public var updates: Int
        /// Whether the last assignment pass changed nothing (else the cap stopped it).
        public var converged: Bool

        public var description: String {
            "k-means over \(rows) records: \(updates) Lloyd updates, "
                + (converged ? "converged (a last pass moved no record)" : "stopped at the --kmeans-iterations cap")
        }
    }

    /// `fit`, and what it did.
    public static func fitted(vectors: [Float], dimension d: Int, k: Int, iterations: Int, seed: UInt64,
                              kernel: KernelChoice = .fastest, threads: Int = 1) -> (centroids: [Float], summary: FitSummary) {
        let n = vectors.count / d
        precondition(k >= 1 && n >= 1)
        var centroids = seedPlusPlus(vectors: vectors, dimension: d, k: k, seed: seed, threads: threads)
        var previous = [Int32](repeating: -1, count: n)
        var summary = FitSummary(rows: n, updates: 0, converged: false)
        for _ in 0..<max(iterations, 1) {
            var nearest = NearestCentroid(centroids: centroids, dimension: d, kernel: kernel)
            nearest.threads = threads
            let (assign, sim) = nearest.assign(rows: vectors)
            if assign == previous { summary.converged = true; break }
            previous = assign
            summary.updates += 1
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
        return (centroids, summary)
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
    ///
    /// Each step is one pass over the rows that updates D² with the newest centre
    /// and runs the next step's race on the updated weights; with `threads` > 1 the
    /// rows are split into contiguous ranges and the ranges' winners compared by
    /// the race's own order (lower score, then lower key, then lower row), which
    /// picks the row a single pass would.
    static func seedPlusPlus(vectors: [Float], dimension d: Int, k: Int, seed: UInt64, threads: Int = 1) -> [Float] {
        let n = vectors.count / d
        let keys = rowKeys(vectors, dimension: d, seed: seed)
        var centroids = [Float](); centroids.reserveCapacity(k * d)
        var first = race(keys, step: 0, weights: nil)
        var dist = [Double](repeating: .infinity, count: n)
        let parts = max(1, min(threads, n / seedingRowsPerThreadMinimum))
        for c in 0..<k {
            centroids.append(contentsOf: vectors[(first * d)..<(first * d + d)])
            if c == k - 1 { break }
            let salt = raceSalt(step: UInt64(c + 1))
            var winners = [RaceEntry?](repeating: nil, count: parts)
            var positive = [Bool](repeating: false, count: parts)
            vectors.withUnsafeBufferPointer { v in
                keys.withUnsafeBufferPointer { keyBuffer in
                    dist.withUnsafeMutableBufferPointer { distBuffer in
                        winners.withUnsafeMutableBufferPointer { winnerBuffer in
                            positive.withUnsafeMutableBufferPointer { positiveBuffer in
                                let shared = SeedingBuffers(vectors: v, keys: keyBuffer, dist: distBuffer,
                                                            winners: winnerBuffer, positive: positiveBuffer)
                                let centre = first
                                let step: @Sendable (Int) -> Void = { part in
                                    let range = (n * part / parts)..<(n * (part + 1) / parts)
                                    let (winner, anyPositive) = updateAndRace(shared, rows: range, centre: centre,
                                                                              dimension: d, salt: salt)
                                    shared.winners[part] = winner
                                    shared.positive[part] = anyPositive
                                }
                                if parts == 1 { step(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: step) }
                            }
                        }
                    }
                }
            }
            if positive.contains(true) {
                var best: RaceEntry?
                for case let candidate? in winners where best == nil || candidate.precedes(best!) { best = candidate }
                first = best!.row
            } else {
                // All rows coincide with chosen centres: a uniform draw.
                first = race(keys, step: UInt64(c + 1), weights: nil)
            }
        }
        return centroids
    }

    /// Rows per seeding thread below which splitting costs more than it saves.
    static let seedingRowsPerThreadMinimum = 4096

    /// The buffers of one seeding step, handed to its threads, which write disjoint ranges.
    private struct SeedingBuffers: @unchecked Sendable {
        let vectors: UnsafeBufferPointer<Float>
        let keys: UnsafeBufferPointer<UInt64>
        let dist: UnsafeMutableBufferPointer<Double>
        let winners: UnsafeMutableBufferPointer<RaceEntry?>
        let positive: UnsafeMutableBufferPointer<Bool>
    }

    /// One row's draw in a race: the winner has the least score.
    struct RaceEntry {
        var score: Double
        var key: UInt64
        var row: Int

        /// The race's order: lower score, then lower key, then lower row.
        func precedes(_ other: RaceEntry) -> Bool {
            if score != other.score { return score < other.score }
            if key != other.key { return key < other.key }
            return row < other.row
        }
    }

    /// Updates D² of `rows` with centre row `centre`, and returns those rows' winner of
    /// the race salted `salt` on the updated weights (rows of weight 0 never win), and
    /// whether any of them has a positive weight.
    private static func updateAndRace(_ shared: SeedingBuffers, rows: Range<Int>, centre: Int, dimension d: Int,
                                      salt: UInt64) -> (RaceEntry?, Bool) {
        let v = shared.vectors.baseAddress!
        let cp = v + centre * d
        var best: RaceEntry?
        var anyPositive = false
        for i in rows {
            let dd = max(0, 1 - Double(VectorMath.dot(v + i * d, cp, d)))
            let squared = dd * dd
            if squared < shared.dist[i] { shared.dist[i] = squared }
            let w = shared.dist[i]
            guard w > 0 else { continue }
            anyPositive = true
            let entry = RaceEntry(score: raceScore(key: shared.keys[i], salt: salt, weight: w), key: shared.keys[i], row: i)
            if best == nil || entry.score < best!.score || (entry.score == best!.score && entry.key < best!.key) { best = entry }
        }
        return (best, anyPositive)
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
        let salt = raceSalt(step: step)
        for i in keys.indices {
            let w = weights?[i] ?? 1
            guard w > 0 else { continue }
            let score = raceScore(key: keys[i], salt: salt, weight: w)
            if score < bestScore || (score == bestScore && keys[i] < bestKey) {
                best = i; bestScore = score; bestKey = keys[i]
            }
        }
        return best
    }

    /// The salt of step `step`'s race.
    @inline(__always) static func raceSalt(step: UInt64) -> UInt64 { (step &+ 1) &* 0x9E37_79B9_7F4A_7C15 }

    /// A row's score in a race: `−log(u) / w`, with `u` uniform in (0, 1) from its key and the salt.
    @inline(__always) static func raceScore(key: UInt64, salt: UInt64, weight w: Double) -> Double {
        var draw = SplitMix64(seed: key ^ salt)
        let bits = draw.next()
        let u = (Double(bits >> 11) + 0.5) * 0x1.0p-53
        return -log(u) / w
    }
}
