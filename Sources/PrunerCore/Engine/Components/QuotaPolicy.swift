// DBP's quotas turned into per-concept keep rates and distance thresholds.

/// Each concept's quota N_j, the keep rate r'_j that repays its deficit, the
/// threshold that rate gives, and d_inter with its refresh schedule. Owns
/// checkpoint section `QUOT`.
struct QuotaPolicy: Sendable {
    /// Smallest horizon over which a concept's keep deficit is repaid:
    /// r'_j = r_j + (r_j·decided_j − kept_j) / max(n_j, 64).
    static let deficitHorizon = 64

    var quotas: [Int]
    var rates: [Double]
    var thresholds: [Float]
    /// Mean cosine distance to the `neighbors` nearest other centroids.
    var dInter: [Double]
    var dInterStale = true
    /// Online moves since d_inter was computed, and nothing that must refresh it (a spawn, new `neighbors`).
    var dInterDeferrable = false
    /// Arrival count at the last d_inter computation.
    var dInterAt = 0
    /// Members decided per concept since it was created.
    var decided: [Int]
    /// Set once a concept was retired or statistics decayed: quotas then come from live statistics.
    var liveQuotas = false

    init(clusters k: Int, keepRatio: Double) {
        quotas = [Int](repeating: 0, count: k)
        rates = [Double](repeating: keepRatio, count: k)
        thresholds = [Float](repeating: 0, count: k)
        dInter = [Double](repeating: 1, count: k)
        decided = [Int](repeating: 0, count: k)
    }

    /// The rate that repays concept j's deficit at quota rate `r` over its `n` own members.
    static func repaying(rate r: Double, decided: Int, kept: Int, members n: Int) -> Double {
        let deficit = r * Double(decided) - Double(kept)
        return min(max(r + deficit / Double(max(n, deficitHorizon)), 0), 1)
    }

    /// Concept j starts over (a spawn retired it).
    mutating func reset(_ j: Int, keepRatio: Double) {
        decided[j] = 0
        quotas[j] = 0
        rates[j] = keepRatio
        thresholds[j] = 0
    }

    func write(to w: inout ByteWriter) {
        w.ints(quotas); w.doubles(rates); w.floats(thresholds); w.doubles(dInter); w.bool(dInterStale); w.ints(decided)
        w.bool(dInterDeferrable); w.int(dInterAt); w.bool(liveQuotas)
    }

    init(reading r: inout ByteReader, clusters k: Int) throws {
        quotas = try r.ints(); rates = try r.doubles(); thresholds = try r.floats()
        dInter = try r.doubles(); dInterStale = try r.bool(); decided = try r.ints()
        dInterDeferrable = try r.bool(); dInterAt = try r.int(); liveQuotas = try r.bool()
        try CheckpointError.require([quotas.count, rates.count, thresholds.count, dInter.count, decided.count].allSatisfy { $0 == k },
                                    "per-concept quota arrays")
        try requireValues()
    }

    /// Checks restored values against what an engine can hold: counts ≥ 0, rates in [0, 1],
    /// thresholds not NaN (±∞ are a rate of 0 or 1), d_inter a cosine distance (within rounding). A NaN d_inter
    /// would make every softmax probability NaN and trap the quotas' rounding to Int.
    func requireValues() throws {
        try CheckpointError.require(quotas.allSatisfy { $0 >= 0 } && decided.allSatisfy { $0 >= 0 }, "quotas")
        try CheckpointError.require(rates.allSatisfy { $0 >= 0 && $0 <= 1 }, "keep rates")
        try CheckpointError.require(!thresholds.contains { $0.isNaN }, "thresholds")
        try CheckpointError.require(dInter.allSatisfy { $0 >= -0.1 && $0 <= 2.1 }, "d_inter")
    }
}
