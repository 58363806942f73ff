// Bounded-memory, mergeable statistics of one concept: what the streaming
// engine knows about the members it has seen.

/// Statistics of one concept's members with memory independent of stream length.
///
/// Every field merges exactly (counts and fixed-point sums add, histograms add
/// bin-wise); the reservoir merges by seeded weighted sampling. That is what
/// lets two engines over two streams combine into what one engine would know
/// over both.
public struct ConceptStatistics: Sendable, Equatable {
    /// Histogram bins over the cosine-distance range [0, 2].
    public static let binCount = 4096
    /// Fixed-point scale of `distanceSum`: distances are summed as integers in
    /// units of 2⁻²⁴ (Float's resolution near 1) so that sums merge exactly.
    public static let sumScale: Double = 16_777_216

    /// Members seen, n_j.
    public var count: Int = 0
    /// Σ distance in units of 2⁻²⁴.
    public var distanceSum: UInt64 = 0
    /// Bin `b` counts distances in `[2b/B, 2(b+1)/B)`.
    public var histogram: [UInt32] {
        get { bins }
        set { bins = newValue; blockCounts = Self.blockCounts(of: newValue) }
    }
    /// The histogram's storage (`histogram` sets it whole).
    private var bins: [UInt32]
    /// Sums of `quantileBlock` consecutive bins, kept in step with `bins`, so a
    /// quantile scans 64 block sums and one block instead of up to 4,096 bins.
    private var blockCounts: [UInt32]
    /// Members kept / dropped so far.
    public var kept: Int = 0
    public var dropped: Int = 0
    /// Reservoir capacity R.
    public let reservoirCapacity: Int
    /// Up to R member vectors (row-major), a uniform sample of the members (Algorithm R).
    public var reservoir: [Float] = []
    /// Dimension of reservoir rows.
    public let dimension: Int

    public init(dimension: Int, reservoirCapacity: Int = 32) {
        self.dimension = dimension
        self.reservoirCapacity = reservoirCapacity
        bins = [UInt32](repeating: 0, count: Self.binCount)
        blockCounts = [UInt32](repeating: 0, count: Self.binCount / Self.quantileBlock)
    }

    private static func blockCounts(of bins: [UInt32]) -> [UInt32] {
        stride(from: 0, to: bins.count, by: quantileBlock).map { start in
            bins[start..<min(start + quantileBlock, bins.count)].reduce(0, &+)
        }
    }

    /// Mean distance of the members to the centroid, d_intra (0 when empty).
    public var meanDistance: Double {
        count > 0 ? Double(distanceSum) / Self.sumScale / Double(count) : 0
    }

    /// Number of vectors in the reservoir.
    public var reservoirCount: Int { reservoir.count / max(dimension, 1) }

    /// The histogram bin of a cosine distance in [0, 2]; anything below (or NaN) is bin 0 and
    /// anything above the last bin, so that no value can trap the conversion to Int.
    @inline(__always) static func bin(of distance: Float) -> Int {
        guard distance > 0 else { return 0 }
        guard distance < 2 else { return binCount - 1 }
        return min(Int(Double(distance) * Double(binCount) / 2), binCount - 1)
    }

    /// Records one member's distance (and offers its vector to the reservoir when given).
    public mutating func add(distance: Float, vector: UnsafeBufferPointer<Float>?, rng: inout Xoshiro256StarStar) {
        count += 1
        let clamped = min(max(Double(distance), 0), 2)
        distanceSum &+= UInt64((clamped * Self.sumScale).rounded())
        let b = Self.bin(of: distance)
        bins[b] &+= 1
        blockCounts[b / Self.quantileBlock] &+= 1
        guard let vector, reservoirCapacity > 0 else { return }
        if reservoirCount < reservoirCapacity {
            reservoir.append(contentsOf: vector)
        } else {
            let slot = rng.nextInt(below: count)
            if slot < reservoirCapacity {
                for t in 0..<dimension { reservoir[slot * dimension + t] = vector[t] }
            }
        }
    }

    /// Takes back one member recorded by `add(distance:…)`: the engine moves a held
    /// record to the concept it is nearest to when it is decided (`--update online`).
    ///
    /// Its reservoir sample, if any, stays (the reservoir is a sample, not a count).
    /// After decay the member's bin may already have faded; then nothing is taken
    /// back, since decayed statistics no longer say which members they hold.
    public mutating func remove(distance: Float) {
        let b = Self.bin(of: distance)
        guard count > 0, bins[b] > 0 else { return }
        count -= 1
        let clamped = min(max(Double(distance), 0), 2)
        distanceSum -= min(distanceSum, UInt64((clamped * Self.sumScale).rounded()))
        bins[b] -= 1
        blockCounts[b / Self.quantileBlock] -= 1
    }

    /// The distance below which a fraction `q` of the members lie (linear
    /// interpolation inside a bin, which assumes members spread evenly in it).
    ///
    /// The engine asks for k quantiles every `recomputeEvery` records, so the scan
    /// runs over the block sums and then inside one block. Counts are integers,
    /// so running sums are exact in `Int` and `Double` alike and the result is the
    /// one a bin-by-bin scan gives.
    public func quantile(_ q: Double) -> Float {
        let total = count
        guard total > 0 else { return 0 }
        let target = min(max(q, 0), 1) * Double(total)
        let width = 2.0 / Double(Self.binCount)
        var cumulative = 0
        for block in blockCounts.indices {
            let blockSum = Int(blockCounts[block])
            if Double(cumulative + blockSum) < target {
                cumulative += blockSum
                continue
            }
            let start = block * Self.quantileBlock
            for b in start..<(start + Self.quantileBlock) {
                let c = Int(bins[b])
                if c > 0 && Double(cumulative + c) >= target {
                    let frac = (target - Double(cumulative)) / Double(c)
                    return Float((Double(b) + frac) * width)
                }
                cumulative += c
            }
        }
        return 2
    }

    /// Members at or below distance `t`, read from the histogram as `quantile` reads it (linear
    /// within a bin), so that summed over shards it is the merged histogram's count: a cluster
    /// shard's share of a concept's quota is its members beyond the cluster's threshold.
    func members(atOrBelow t: Float) -> Double {
        let position = Double(t) * Double(Self.binCount) / 2
        guard position > 0 else { return 0 }
        guard position < Double(Self.binCount) else { return Double(count) }
        let bin = Int(position)
        var below = 0
        for b in 0..<bin { below += Int(bins[b]) }
        return Double(below) + (position - Double(bin)) * Double(bins[bin])
    }

    /// The quantile of `self` and `other` together (the same concept seen by other
    /// engines, e.g. the rest of a cluster), as `quantile` of their merge would give,
    /// without building the merge: a cluster shard asks this k times per recompute.
    public func quantile(_ q: Double, together other: ConceptStatistics) -> Float {
        let total = count + other.count
        guard total > 0 else { return 0 }
        let target = min(max(q, 0), 1) * Double(total)
        let width = 2.0 / Double(Self.binCount)
        var cumulative = 0
        for block in blockCounts.indices {
            let blockSum = Int(blockCounts[block]) + Int(other.blockCounts[block])
            if Double(cumulative + blockSum) < target {
                cumulative += blockSum
                continue
            }
            let start = block * Self.quantileBlock
            for b in start..<(start + Self.quantileBlock) {
                let c = Int(bins[b]) + Int(other.bins[b])
                if c > 0 && Double(cumulative + c) >= target {
                    let frac = (target - Double(cumulative)) / Double(c)
                    return Float((Double(b) + frac) * width)
                }
                cumulative += c
            }
        }
        return 2
    }

    /// Bins summed at once by `quantile` (divides `binCount`).
    static let quantileBlock = 64

    /// Adds `other` (the same concept seen by another engine) into `self`.
    ///
    /// Counts, sums and histograms add exactly. The merged reservoir is a
    /// sample without replacement of the union where each stored vector stands
    /// for `n / R` members of its side (weighted sampling), drawn with `seed`.
    public mutating func merge(_ other: ConceptStatistics, seed: UInt64 = 0) {
        precondition(other.dimension == dimension, "merging statistics of different dimensions")
        let nSelf = count, nOther = other.count
        count += other.count
        distanceSum &+= other.distanceSum
        for b in 0..<Self.binCount { bins[b] &+= other.bins[b] }
        for b in blockCounts.indices { blockCounts[b] &+= other.blockCounts[b] }
        kept += other.kept
        dropped += other.dropped
        let d = dimension
        var a = (0..<reservoirCount).map { Array(reservoir[($0 * d)..<($0 * d + d)]) }
        var b = (0..<other.reservoirCount).map { Array(other.reservoir[($0 * d)..<($0 * d + d)]) }
        var rng = Xoshiro256StarStar(seed: seed, stream: 5)
        var popA = Double(nSelf), popB = Double(nOther)
        let stepA = a.isEmpty ? 0 : popA / Double(a.count), stepB = b.isEmpty ? 0 : popB / Double(b.count)
        var merged = [Float]()
        while merged.count / max(d, 1) < reservoirCapacity && (!a.isEmpty || !b.isEmpty) {
            let takeA = b.isEmpty || (!a.isEmpty && rng.nextUnit() * (popA + popB) < popA)
            if takeA {
                merged.append(contentsOf: a.remove(at: rng.nextInt(below: a.count))); popA = max(0, popA - stepA)
            } else {
                merged.append(contentsOf: b.remove(at: rng.nextInt(below: b.count))); popB = max(0, popB - stepB)
            }
        }
        reservoir = merged
    }
}
