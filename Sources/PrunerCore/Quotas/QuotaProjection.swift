// The exact projection of DBP's soft quotas P·M onto integer keep counts.

/// Projects the ideal per-concept keep counts `P_j · M` onto the feasible set
///
///     { N ∈ ℤ^k : Σ_j N_j = M,  floor_j ≤ N_j ≤ n_j }
///
/// **Continuous step (water-filling).** The Euclidean projection of `P·M` onto
/// the box-constrained simplex `{x : Σ x_j = M, lo_j ≤ x_j ≤ hi_j}` has the
/// closed form `x_j(λ) = clip(P_j·M + λ, lo_j, hi_j)` for the unique "water
/// level" λ with `Σ_j x_j(λ) = M` (KKT conditions of the projection). `Σ x(λ)`
/// is continuous, non-decreasing and piecewise linear in λ with breakpoints at
/// `lo_j − P_j·M` and `hi_j − P_j·M`, so we sort the 2k breakpoints, find the
/// segment where the sum crosses M and solve the linear equation on it: exact
/// up to floating-point rounding, O(k log k).
///
/// **Integer step.** Floor every `x_j` (floors respect the integer bounds, since
/// `lo_j ≤ x_j`), then hand the `M − Σ⌊x_j⌋` remaining units, one each, to the
/// concepts with the largest fractional parts that still have room
/// (`N_j < hi_j`), ties to the lower index. The result sums to M exactly.
///
/// **Bounds.** `floor_j = min(max(1, ⌊F·M/k⌋), n_j − 1)`, clamped at 0 (F is
/// `minPerCluster`); `hi_j = n_j`. Empty concepts get `N_j = 0`.
///
/// **Infeasible requests** are resolved in favour of the total, which is the
/// user-visible contract:
/// - `M > Σ n_j`: every concept keeps everything (`N = n`, total `Σ n_j`).
/// - `M < Σ floor_j`: the floors are dropped (set to 0) and the projection is
///   solved with `0 ≤ N_j ≤ n_j`, so the total is still exactly M.
/// - `M ≤ 0`: all zeros.
public enum QuotaProjection {
    /// The per-concept lower bounds `floor_j` for total M over k concepts.
    public static func floors(sizes: [Int], total m: Int, minPerCluster f: Double) -> [Int] {
        let k = max(sizes.count, 1)
        // Capped before the conversion, which trapped past Int.max (--min-per-cluster 1e19):
        // a floor beyond every concept's size is cut to n_j − 1 below all the same.
        let base = max(1, Int(min((f * Double(m) / Double(k)).rounded(.down), Double(Int.max / 2))))
        return sizes.map { n in max(0, min(base, n - 1)) }
    }

    /// The continuous projection of `ideal` onto `{Σ x = m, lo ≤ x ≤ hi}`; requires `Σ lo ≤ m ≤ Σ hi`.
    public static func continuous(ideal: [Double], lower lo: [Double], upper hi: [Double], total m: Double) -> [Double] {
        let k = ideal.count
        precondition(lo.count == k && hi.count == k)
        func sum(_ lambda: Double) -> Double {
            var s = 0.0
            for j in 0..<k { s += min(max(ideal[j] + lambda, lo[j]), hi[j]) }
            return s
        }
        var breaks = [Double]()
        breaks.reserveCapacity(2 * k)
        for j in 0..<k { breaks.append(lo[j] - ideal[j]); breaks.append(hi[j] - ideal[j]) }
        breaks.sort()
        guard let first = breaks.first, let last = breaks.last else { return [] }
        var lambda: Double
        if sum(first) >= m {
            lambda = first
        } else if sum(last) <= m {
            lambda = last
        } else {
            // Binary search the last breakpoint whose sum is ≤ m; the sum is linear up to the next one.
            var a = 0, b = breaks.count - 1            // sum(breaks[a]) < m < sum(breaks[b])
            while b - a > 1 {
                let mid = (a + b) / 2
                if sum(breaks[mid]) <= m { a = mid } else { b = mid }
            }
            let sa = sum(breaks[a]), sb = sum(breaks[b])
            lambda = sb > sa ? breaks[a] + (m - sa) * (breaks[b] - breaks[a]) / (sb - sa) : breaks[a]
        }
        return (0..<k).map { j in min(max(ideal[j] + lambda, lo[j]), hi[j]) }
    }

    /// Integer quotas N with Σ N = m (see the type's documentation for infeasible m).
    ///
    /// - Parameters:
    ///   - probabilities: P_j, summing to 1 over non-empty concepts (0 for empty ones).
    ///   - sizes: n_j.
    ///   - total: M.
    ///   - floors: floor_j (use `floors(sizes:total:minPerCluster:)`).
    public static func quotas(probabilities p: [Double], sizes: [Int], total m: Int, floors: [Int]) -> [Int] {
        let k = sizes.count
        precondition(p.count == k && floors.count == k)
        let capacity = sizes.reduce(0, +)
        if m <= 0 { return [Int](repeating: 0, count: k) }
        if m >= capacity { return sizes }
        var lower = (0..<k).map { j in Double(min(max(floors[j], 0), sizes[j])) }
        if lower.reduce(0, +) > Double(m) { lower = [Double](repeating: 0, count: k) }
        let upper = sizes.map(Double.init)
        let x = continuous(ideal: p.map { $0 * Double(m) }, lower: lower, upper: upper, total: Double(m))
        return roundPreservingTotal(x, lower: lower.map { Int($0) }, upper: sizes, total: m)
    }

    /// Floors `x` and distributes the remaining units to the largest fractional parts with room (ties: lower index).
    static func roundPreservingTotal(_ x: [Double], lower: [Int], upper: [Int], total m: Int) -> [Int] {
        let k = x.count
        var n = (0..<k).map { j in min(max(Int(x[j].rounded(.down)), lower[j]), upper[j]) }
        var remaining = m - n.reduce(0, +)
        if remaining > 0 {
            let fractions = x.map { $0 - $0.rounded(.down) }
            let order = (0..<k).sorted { a, b in
                fractions[a] != fractions[b] ? fractions[a] > fractions[b] : a < b
            }
            for j in order where remaining > 0 && n[j] < upper[j] { n[j] += 1; remaining -= 1 }
            // Rounding noise can leave units over; give them by index to whoever has room.
            var j = 0
            while remaining > 0 && j < k {
                let add = min(remaining, upper[j] - n[j]); n[j] += add; remaining -= add; j += 1
            }
        } else if remaining < 0 {
            var j = k - 1
            while remaining < 0 && j >= 0 {
                let take = min(-remaining, n[j] - lower[j]); n[j] -= take; remaining += take; j -= 1
            }
        }
        return n
    }
}
