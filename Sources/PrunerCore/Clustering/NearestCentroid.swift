// The hot kernel: nearest centroid by cosine for a batch of normalised rows.
// With NearestCentroid+Narrow.swift (its AVX2 tile), TileScreen.swift and ByteScreen.swift (its screens),
// all unsafe pointer code of the core's clustering lives here.
import Dispatch

/// Batched nearest-centroid search by inner product (cosine on unit vectors).
///
/// The centroid matrix is transposed once, at construction, into *panels* of
/// 16 centroids: panel `p` stores, for every dimension `t`, the 16 values
/// `c[16p + 0 ..< 16p + 16][t]` contiguously as one `SIMD16<Float>`. Rows are
/// taken 12 at a time and interleaved (`t`-major, 12 values per dimension) so
/// that one pointer walks all twelve. The kernel then computes a 12-row ×
/// 32-centroid tile of dot products in 24 SIMD16 accumulators (a
/// register-blocked GEMM micro-kernel): per dimension it loads two panel
/// vectors, broadcasts twelve row scalars and issues 24 multiply-adds, so
/// arithmetic dominates memory traffic (an odd last panel gets a 12 × 16 tile,
/// not 16 centroids of padding). The running best per row is kept per
/// lane (a compare and two blends per panel pair, no horizontal work) and
/// reduced once per row at the end, so the tile's fixed cost stays small next
/// to its `d`-long multiply-add loop (horizontal maxima per panel pair cost a
/// third of the time at d = 384).
///
/// Determinism: every row's dot products are computed by the same sequence
/// of operations whatever its position in the batch (partial row tiles are
/// zero-padded, missing centroids are masked to −∞), so a record's assignment
/// never depends on how records are batched. Ties go to the lowest centroid
/// index: each lane keeps its first maximum (strict `>`), and the final
/// reduction takes the lowest index among the lanes holding the maximum.
///
/// **Screening.** Where the CPU has AMX tiles (`TileScreen`) or AVX512-VNNI
/// (`ByteScreen`), a bfloat16 or int8 pass scores every centroid several times
/// faster, and only the panels it cannot rule out (usually one or two per row)
/// go through the float32 computation above. The result is the float32
/// kernel's, bit for bit (tested), so decisions do not depend on the machine's
/// instruction set either.
public struct NearestCentroid: Sendable {
    public let count: Int
    /// The dimension d.
    public let dimension: Int
    /// Centroids in panel layout, `panelCount × dimension` SIMD16 values.
    private(set) var panels: [SIMD16<Float>]
    /// Per panel: 0 for real centroids, −∞ for padding lanes.
    let masks: [SIMD16<Float>]
    let panelCount: Int
    /// The approximate first pass, where the CPU has one and `screen` asked for it.
    private var screen: Screen?
    /// The float32 kernel's register tile (results do not depend on it).
    public let registerTile: RegisterTile
    /// Threads sharing one `assign` call. Rows are independent and every row is
    /// computed by the same operations wherever it lands, so results do not
    /// depend on this number.
    public var threads: Int = 1
    /// Whether `RecordBatch.assignAhead` asks this kernel for runner-up bounds too
    /// (`assign(rows:count:into:similarities:runnerUps:)`): set by an engine that re-assigns
    /// held records by their margin. Assignments are the same either way.
    public internal(set) var computesRunnerUps = false
    /// This kernel's identity, shared by its copies: an engine maps it to the centroid epoch
    /// the kernel was built from (held alive there, so identities are never reused).
    private(set) var identity = KernelIdentity()

    static let rowTile = 12
    /// Below this many rows a call is not split (thread hand-off would cost more).
    static let rowsPerThreadMinimum = 64

    /// Whether `assign` screens (for reports; results are the same).
    public var isScreened: Bool { screen != nil }

    /// The screen `assign` uses, if any (for reports; results are the same).
    public var screenKind: ScreenKind? { screen?.kind }

    /// Whether kernels built here will screen by default: the CPU has AMX-BF16 or
    /// AVX512-VNNI (for benchmarks; `KernelChoice` can still turn it off).
    public static var isScreeningAvailable: Bool { ScreenKind.preferred != nil }

    /// - Parameters:
    ///   - centroids: `k × dimension`, row-major; used as given (normalise them first for cosine).
    ///   - dimension: the dimension d.
    ///   - screen: the first pass to screen with (the CPU's fastest by default; `nil`:
    ///     float32 only, to compare). A kind the CPU lacks means no screen.
    ///   - registerTile: the float32 kernel's tile shape (the CPU's by default; any gives the same results).
    public init(centroids: [Float], dimension: Int, screen: ScreenKind? = ScreenKind.preferred,
                registerTile: RegisterTile = .preferred) {
        self.registerTile = registerTile
        precondition(dimension > 0 && centroids.count % dimension == 0 && !centroids.isEmpty)
        let k = centroids.count / dimension
        self.count = k
        self.dimension = dimension
        let pc = (k + 15) / 16
        panelCount = pc
        var panels = [SIMD16<Float>](repeating: .zero, count: pc * dimension)
        var masks = [SIMD16<Float>](repeating: .zero, count: pc)
        for p in 0..<pc {
            for lane in 0..<16 {
                let j = p * 16 + lane
                if j < k {
                    for t in 0..<dimension { panels[p * dimension + t][lane] = centroids[j * dimension + t] }
                } else {
                    masks[p][lane] = -.infinity
                }
            }
        }
        self.panels = panels
        self.masks = masks
        self.screen = screen.flatMap { Screen(kind: $0, centroids: centroids, dimension: dimension) }
    }

    /// A kernel for `centroids` (same k and d) where only the centroids `changed` differ from
    /// this kernel's: their lanes are refilled and their panels re-screened, the rest copied.
    /// Bit for bit the kernel `init` would build (tested), at a fraction of its cost when online
    /// moves touched a few centroids; an AMX screen is built again in full.
    func updating(centroids: [Float], changed: [Int]) -> NearestCentroid {
        var made = self
        made.identity = KernelIdentity()
        let d = dimension
        var panels = self.panels
        panels.withUnsafeMutableBufferPointer { out in
            for j in changed {
                let p = j / 16, lane = j % 16
                for t in 0..<d { out[p * d + t][lane] = centroids[j * d + t] }
            }
        }
        made.panels = panels
        let changedPanels = Array(Set(changed.map { $0 / 16 })).sorted()
        switch screen {
        case .bytes(let bytes)?: made.screen = .bytes(bytes.updating(centroids: centroids, changedPanels: changedPanels))
        case .tiles?: made.screen = Screen(kind: .amxBFloat16, centroids: centroids, dimension: d)
        case nil: break
        }
        return made
    }

    /// Whether `other` is this very kernel (a copy sharing its panel storage, which
    /// never changes), so that results computed by one are the other's. `threads`
    /// may differ: it does not change results.
    func isSameKernel(as other: NearestCentroid) -> Bool {
        panels.withUnsafeBufferPointer { mine in
            other.panels.withUnsafeBufferPointer { theirs in mine.baseAddress == theirs.baseAddress }
        }
    }

    /// Array convenience: assigns `rows` (`n × dimension`).
    /// - Returns: per row the index of the most similar centroid and that similarity (cosine).
    public func assign(rows: [Float]) -> (assignments: [Int32], similarities: [Float]) {
        let n = rows.count / dimension
        var a = [Int32](repeating: 0, count: n)
        var s = [Float](repeating: 0, count: n)
        rows.withUnsafeBufferPointer { r in
            a.withUnsafeMutableBufferPointer { ap in
                s.withUnsafeMutableBufferPointer { sp in
                    assign(rows: r, count: n, into: ap, similarities: sp)
                }
            }
        }
        return (a, s)
    }

    /// Assigns `count` rows stored row-major from `rows.baseAddress`.
    ///
    /// Writes the index of the most similar centroid into `assignments[i]` and
    /// the similarity into `similarities[i]`; the cosine distance is `1 − similarity`.
    public func assign(
        rows: UnsafeBufferPointer<Float>, count n: Int,
        into assignments: UnsafeMutableBufferPointer<Int32>,
        similarities: UnsafeMutableBufferPointer<Float>
    ) {
        assign(rows: rows, count: n, into: assignments, similarities: similarities, runnerUps: nil)
    }

    /// `assign`, and per row a runner-up bound into `runnerUps[i]`: every centroid but the
    /// assigned one has a computed similarity (the float32 chain's) ≤ it, so a margin over
    /// it proves the assignment (`StreamingPruner+Reassignment.swift`). Assignments and
    /// similarities are `assign`'s, bit for bit. A screened kernel bounds the centroids it
    /// ruled out by their screened score plus the screen's error bound and knows the rest
    /// exactly; the float32 kernels alone keep no runner-up and write +∞ (no bound).
    func assign(
        rows: UnsafeBufferPointer<Float>, count n: Int,
        into assignments: UnsafeMutableBufferPointer<Int32>,
        similarities: UnsafeMutableBufferPointer<Float>,
        runnerUps: UnsafeMutableBufferPointer<Float>?
    ) {
        precondition(rows.count >= n * dimension && assignments.count >= n && similarities.count >= n
                     && (runnerUps?.count ?? n) >= n)
        guard n > 0 else { return }
        let parts = min(threads, n / Self.rowsPerThreadMinimum)
        guard parts > 1 else {
            assignSerially(rows: rows, count: n, into: assignments, similarities: similarities, runnerUps: runnerUps)
            return
        }
        // Split on row-tile boundaries; each part writes only its own rows.
        let tiles = (n + Self.rowTile - 1) / Self.rowTile
        let shared = SharedBuffers(rows: rows, assignments: assignments, similarities: similarities, runnerUps: runnerUps)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let first = tiles * part / parts * Self.rowTile
            let last = min(n, tiles * (part + 1) / parts * Self.rowTile)
            guard first < last else { return }
            let d = dimension
            assignSerially(
                rows: UnsafeBufferPointer(rebasing: shared.rows[(first * d)..<(last * d)]), count: last - first,
                into: UnsafeMutableBufferPointer(rebasing: shared.assignments[first..<last]),
                similarities: UnsafeMutableBufferPointer(rebasing: shared.similarities[first..<last]),
                runnerUps: shared.runnerUps.map { UnsafeMutableBufferPointer(rebasing: $0[first..<last]) })
        }
    }

    /// Array convenience of the runner-up form: assigns `rows` (`n × dimension`).
    func assignWithRunnerUps(rows: [Float]) -> (assignments: [Int32], similarities: [Float], runnerUps: [Float]) {
        let n = rows.count / dimension
        var a = [Int32](repeating: 0, count: n)
        var s = [Float](repeating: 0, count: n)
        var u = [Float](repeating: 0, count: n)
        rows.withUnsafeBufferPointer { r in
            a.withUnsafeMutableBufferPointer { ap in
                s.withUnsafeMutableBufferPointer { sp in
                    u.withUnsafeMutableBufferPointer { up in
                        assign(rows: r, count: n, into: ap, similarities: sp, runnerUps: up)
                    }
                }
            }
        }
        return (a, s, u)
    }

    /// The buffers of one `assign` call, handed to its threads, which write disjoint ranges.
    private struct SharedBuffers: @unchecked Sendable {
        let rows: UnsafeBufferPointer<Float>
        let assignments: UnsafeMutableBufferPointer<Int32>
        let similarities: UnsafeMutableBufferPointer<Float>
        let runnerUps: UnsafeMutableBufferPointer<Float>?
    }

    private func assignSerially(
        rows: UnsafeBufferPointer<Float>, count n: Int,
        into assignments: UnsafeMutableBufferPointer<Int32>,
        similarities: UnsafeMutableBufferPointer<Float>,
        runnerUps: UnsafeMutableBufferPointer<Float>?
    ) {
        switch screen {
        case .tiles(let tiles):
            assignScreened(rows: rows, count: n, into: assignments, similarities: similarities, runnerUps: runnerUps,
                           screen: tiles)
            return
        case .bytes(let bytes):
            assignScreened(rows: rows, count: n, into: assignments, similarities: similarities, runnerUps: runnerUps,
                           screen: bytes)
            return
        case nil:
            if let runnerUps { runnerUps.baseAddress!.update(repeating: .infinity, count: n) }
        }
        if registerTile == .narrow {
            assignNarrow(rows: rows, count: n, into: assignments, similarities: similarities)
            return
        }
        let d = dimension
        let tile = Self.rowTile
        // Scratch: the interleaved row tile, and per row the best similarity and index per lane.
        var packed = [Float](repeating: 0, count: tile * d)
        var best = [SIMD16<Float>](repeating: .zero, count: tile)
        var arg = [SIMD16<Int32>](repeating: .zero, count: tile)
        panels.withUnsafeBufferPointer { panelBuffer in
            masks.withUnsafeBufferPointer { maskBuffer in
                packed.withUnsafeMutableBufferPointer { packedBuffer in
                    best.withUnsafeMutableBufferPointer { bestBuffer in
                        arg.withUnsafeMutableBufferPointer { argBuffer in
                            var start = 0
                            while start < n {
                                let m = min(tile, n - start)
                                Self.interleave(rows: rows.baseAddress! + start * d, count: m, dimension: d,
                                                into: packedBuffer.baseAddress!)
                                kernel(rows: packedBuffer.baseAddress!, panels: panelBuffer.baseAddress!,
                                       masks: maskBuffer.baseAddress!,
                                       best: bestBuffer.baseAddress!, arg: argBuffer.baseAddress!)
                                for r in 0..<m {
                                    let (index, similarity) = Self.reduce(best: bestBuffer[r], arg: argBuffer[r])
                                    assignments[start + r] = index
                                    similarities[start + r] = similarity
                                }
                                start += m
                            }
                        }
                    }
                }
            }
        }
    }

    /// `assignSerially` with a screen. Per chunk of rows: the approximate
    /// panel maxima select each row's candidate panels (those holding a
    /// centroid within twice the error bound of the row's best score: every
    /// other centroid is provably less similar than the best); then each panel
    /// is scored exactly for its candidate rows, 12 at a time, by the same tile
    /// code as `kernel` (a chunk of hundreds of rows lets one pass over a panel
    /// serve many rows). Panels are folded in increasing order, so ties go to
    /// the lowest index as in `kernel`.
    ///
    /// With `runnerUps`, each row's bound on every other centroid: the largest of the other
    /// lanes' bests, its own lane's second best (both exact) and the ruled-out panels'
    /// screened maxima plus the error bound.
    private func assignScreened<S: CentroidScreen>(
        rows: UnsafeBufferPointer<Float>, count n: Int,
        into assignments: UnsafeMutableBufferPointer<Int32>,
        similarities: UnsafeMutableBufferPointer<Float>,
        runnerUps: UnsafeMutableBufferPointer<Float>?,
        screen: S
    ) {
        let scratch = ScreenScratch(kernel: self, screen: screen)
        let tracksSecond = runnerUps != nil
        panels.withUnsafeBufferPointer { panels in
            masks.withUnsafeBufferPointer { masks in
                var start = 0
                while start < n {
                    let m = min(Self.screenedChunk, n - start)
                    let chunk = rows.baseAddress! + start * dimension
                    selectCandidates(rows: chunk, count: m, available: n - start, screen: screen, scratch: scratch,
                                     boundsExcluded: tracksSecond)
                    scoreCandidates(rows: chunk, count: m, panels: panels.baseAddress!, masks: masks.baseAddress!,
                                    scratch: scratch, tracksSecond: tracksSecond)
                    for r in 0..<m {
                        let (index, similarity) = Self.reduce(best: scratch.best[r], arg: scratch.arg[r])
                        assignments[start + r] = index
                        similarities[start + r] = similarity
                        if let runnerUps {
                            var others = scratch.best[r]
                            let lane = Int(index) % 16
                            others[lane] = scratch.second[r][lane]
                            runnerUps[start + r] = max(others.max(), scratch.excluded[r])
                        }
                    }
                    start += m
                }
            }
        }
    }

    /// How many panels of 16 centroids per row the screen leaves to exact
    /// scoring on `rows` (`n × dimension`): 1 is perfect pruning, `panelCount`
    /// none. Nil without a screen. For tests and benchmarks; `assign` is unaffected.
    public func screenedPanelsPerRow(rows: [Float]) -> Double? {
        switch screen {
        case .tiles(let tiles): return screenedPanelsPerRow(rows: rows, screen: tiles)
        case .bytes(let bytes): return screenedPanelsPerRow(rows: rows, screen: bytes)
        case nil: return nil
        }
    }

    private func screenedPanelsPerRow<S: CentroidScreen>(rows: [Float], screen: S) -> Double {
        let n = rows.count / dimension
        guard n > 0 else { return 0 }
        let scratch = ScreenScratch(kernel: self, screen: screen)
        var panels = 0
        rows.withUnsafeBufferPointer { rows in
            var start = 0
            while start < n {
                let m = min(Self.screenedChunk, n - start)
                selectCandidates(rows: rows.baseAddress! + start * dimension, count: m, available: n - start,
                                 screen: screen, scratch: scratch, boundsExcluded: false)
                panels += scratch.candidateCounts.reduce(0, +)
                start += m
            }
        }
        return Double(panels) / Double(n)
    }

    /// Lists, per panel, the rows of a chunk (≤ `screenedChunk`) whose screen
    /// puts a centroid of the panel within twice the error bound of the row's best.
    /// `available` rows may be read from `rows` (the chunk and those after it). With
    /// `boundsExcluded`, `scratch.excluded[r]` bounds every ruled-out centroid's float32 score
    /// (its panel's screened maximum plus the error bound, rounded up; −∞ when none is).
    @inline(__always)
    private func selectCandidates<S: CentroidScreen>(rows: UnsafePointer<Float>, count n: Int, available: Int,
                                                     screen: S, scratch: ScreenScratch, boundsExcluded: Bool) {
        let d = dimension
        let stride = screen.panelStride
        scratch.candidateCounts.update(repeating: 0)
        var start = 0
        while start < n {
            let m = min(screen.rowBlock, n - start)
            let base = rows + start * d
            let following = min(screen.rowBlock, available - start - m)
            screen.panelMaxima(rows: base, count: m, next: base + m * d, nextCount: following,
                               scratch: scratch.tiles.baseAddress!,
                               into: scratch.maxima.baseAddress!, norms: scratch.norms.baseAddress!,
                               roundingNorms: scratch.roundingNorms.baseAddress!)
            for r in 0..<m {
                let norm = scratch.norms[r] * 1.0001
                let window = 2 * screen.errorBound(rowNorm: norm, rowRoundingNorm: scratch.roundingNorms[r])
                let rowMaxima = scratch.maxima.baseAddress! + r * stride
                var top = -Float.infinity
                for p in 0..<panelCount where rowMaxima[p] > top { top = rowMaxima[p] }
                let threshold = top - window
                guard boundsExcluded else {
                    for p in 0..<panelCount where rowMaxima[p] >= threshold {
                        scratch.candidates[p * Self.screenedChunk + scratch.candidateCounts[p]] = Int32(start + r)
                        scratch.candidateCounts[p] += 1
                    }
                    continue
                }
                var excluded = -Float.infinity
                for p in 0..<panelCount {
                    if rowMaxima[p] >= threshold {
                        scratch.candidates[p * Self.screenedChunk + scratch.candidateCounts[p]] = Int32(start + r)
                        scratch.candidateCounts[p] += 1
                    } else if rowMaxima[p] > excluded {
                        excluded = rowMaxima[p]
                    }
                }
                // |a − f| ≤ window / 2 (exact halving); the sum in Double, rounded up to a Float.
                let bound = Double(excluded) + Double(window / 2)
                scratch.excluded[start + r] = excluded == -.infinity ? -.infinity : Float(bound).nextUp.nextUp
            }
            start += m
        }
    }

    /// Scores each panel exactly for its candidate rows, leaving every row's
    /// per-lane best in `scratch.best` / `scratch.arg`. Panels go in increasing
    /// order, so each row meets its candidates in the order `kernel` would.
    @inline(__always)
    /// With `tracksSecond`, `scratch.second` gets each row's per-lane second best too.
    private func scoreCandidates(
        rows: UnsafePointer<Float>, count n: Int,
        panels: UnsafePointer<SIMD16<Float>>, masks: UnsafePointer<SIMD16<Float>>, scratch: ScreenScratch,
        tracksSecond: Bool
    ) {
        scratch.best.baseAddress!.update(repeating: SIMD16(repeating: -.infinity), count: n)
        scratch.arg.baseAddress!.update(repeating: .zero, count: n)
        if tracksSecond { scratch.second.baseAddress!.update(repeating: SIMD16(repeating: -.infinity), count: n) }
        for p in 0..<panelCount {
            let listed = scratch.candidates.baseAddress! + p * Self.screenedChunk
            let count = scratch.candidateCounts[p]
            var first = 0
            while first < count {
                let m = min(Self.candidateGroup, count - first)
                scoreGroup(listed + first, count: m, rows: rows, panel: p, panels: panels, masks: masks,
                           best: scratch.best.baseAddress!, arg: scratch.arg.baseAddress!,
                           second: tracksSecond ? scratch.second.baseAddress! : nil)
                first += m
            }
        }
    }

    /// Candidate rows scored together against one panel: eight independent
    /// multiply-add chains cover the FMA latency of two ports.
    static let candidateGroup = 8

    /// Panel `p` against `m` ≤ 8 listed rows, read in place (no copy, no
    /// interleaving: a candidate list is a few rows per panel, so their cost
    /// would exceed the arithmetic's), folded into the rows' per-lane bests. Each
    /// (row, centroid) lane is the kernel's chain: one multiply-add per
    /// dimension, in dimension order, from zero. A short group repeats its last
    /// row, computed but not folded.
    @inline(__always)
    private func scoreGroup(
        _ listed: UnsafePointer<Int32>, count m: Int, rows: UnsafePointer<Float>, panel p: Int,
        panels: UnsafePointer<SIMD16<Float>>, masks: UnsafePointer<SIMD16<Float>>,
        best: UnsafeMutablePointer<SIMD16<Float>>, arg: UnsafeMutablePointer<SIMD16<Int32>>,
        second: UnsafeMutablePointer<SIMD16<Float>>?
    ) {
        let d = dimension
        func row(_ q: Int) -> UnsafePointer<Float> { rows + Int(listed[min(q, m - 1)]) &* d }
        let x0 = row(0), x1 = row(1), x2 = row(2), x3 = row(3), x4 = row(4), x5 = row(5), x6 = row(6), x7 = row(7)
        let pa = panels + p * d
        var a0 = SIMD16<Float>.zero, a1 = SIMD16<Float>.zero, a2 = SIMD16<Float>.zero, a3 = SIMD16<Float>.zero
        var a4 = SIMD16<Float>.zero, a5 = SIMD16<Float>.zero, a6 = SIMD16<Float>.zero, a7 = SIMD16<Float>.zero
        for t in 0..<d {
            let v = pa[t]
            a0 = madd(a0, SIMD16<Float>(repeating: x0[t]), v)
            a1 = madd(a1, SIMD16<Float>(repeating: x1[t]), v)
            a2 = madd(a2, SIMD16<Float>(repeating: x2[t]), v)
            a3 = madd(a3, SIMD16<Float>(repeating: x3[t]), v)
            a4 = madd(a4, SIMD16<Float>(repeating: x4[t]), v)
            a5 = madd(a5, SIMD16<Float>(repeating: x5[t]), v)
            a6 = madd(a6, SIMD16<Float>(repeating: x6[t]), v)
            a7 = madd(a7, SIMD16<Float>(repeating: x7[t]), v)
        }
        let mask = masks[p]
        let ia = SIMD16<Int32>(repeating: Int32(p * 16)) &+ SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let scores = (a0, a1, a2, a3, a4, a5, a6, a7)
        withUnsafeBytes(of: scores) { raw in
            let results = raw.bindMemory(to: SIMD16<Float>.self)
            for q in 0..<m {
                let r = Int(listed[q])
                let scored = results[q] + mask
                // The second best per lane: max(second, min(scored, best)) before `best` moves.
                if let second { second[r] = pointwiseMax(second[r], pointwiseMin(scored, best[r])) }
                Self.update(&best[r], &arg[r], scored, ia)
            }
        }
    }

    /// The working memory of one screened `assign` call (one thread's), freed with it.
    private final class ScreenScratch {
        /// The screen's quantised row tiles, its panel maxima, the rows' norms and rounding norms.
        let tiles: UnsafeMutableRawBufferPointer
        let maxima: UnsafeMutableBufferPointer<Float>
        let norms: UnsafeMutableBufferPointer<Float>
        let roundingNorms: UnsafeMutableBufferPointer<Float>
        /// Per panel, the chunk's rows to score exactly (in row order), and how many.
        let candidates: UnsafeMutableBufferPointer<Int32>
        let candidateCounts: UnsafeMutableBufferPointer<Int>
        /// Per row of the chunk, the per-lane bests.
        let best: UnsafeMutableBufferPointer<SIMD16<Float>>
        let arg: UnsafeMutableBufferPointer<SIMD16<Int32>>
        /// With runner-ups: per row of the chunk, the per-lane second bests and the ruled-out panels' bound.
        let second: UnsafeMutableBufferPointer<SIMD16<Float>>
        let excluded: UnsafeMutableBufferPointer<Float>

        init<S: CentroidScreen>(kernel: NearestCentroid, screen: S) {
            func buffer<T>(_ count: Int, _ value: T) -> UnsafeMutableBufferPointer<T> {
                let b = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
                b.initialize(repeating: value)
                return b
            }
            let chunk = NearestCentroid.screenedChunk
            tiles = .allocate(byteCount: screen.scratchBytes, alignment: 64)
            tiles.initializeMemory(as: UInt8.self, repeating: 0)
            maxima = buffer(screen.rowBlock * screen.panelStride, 0)
            norms = buffer(screen.rowBlock, 0)
            roundingNorms = buffer(screen.rowBlock, 0)
            candidates = buffer(kernel.panelCount * chunk, 0)
            candidateCounts = buffer(kernel.panelCount, 0)
            best = buffer(chunk, .zero)
            arg = buffer(chunk, .zero)
            second = buffer(chunk, .zero)
            excluded = buffer(chunk, 0)
        }

        deinit {
            tiles.deallocate(); maxima.deallocate(); norms.deallocate(); roundingNorms.deallocate()
            candidates.deallocate(); candidateCounts.deallocate()
            best.deallocate(); arg.deallocate(); second.deallocate(); excluded.deallocate()
        }
    }

    /// Rows screened together: enough that a panel's candidates fill groups of 8 (~19 per panel
    /// at k = 500 on real data; a group costs the same with 1 row or 8).
    static let screenedChunk = 384

    /// Copies `count` ≤ 12 rows into the tile layout `packed[t · 12 + r]`, zero-filling missing rows.
    /// Dimension-major, so the stores are contiguous (this runs once per tile: at k = 100 it
    /// is a sizeable fraction of the tile's work).
    @inline(__always)
    private static func interleave(rows: UnsafePointer<Float>, count m: Int, dimension d: Int,
                                   into packed: UnsafeMutablePointer<Float>) {
        guard m == rowTile else {
            packed.update(repeating: 0, count: rowTile &* d)
            for r in 0..<m {
                let row = rows + r &* d
                for t in 0..<d { packed[t &* rowTile &+ r] = row[t] }
            }
            return
        }
        var destination = packed
        for t in 0..<d {
            var source = rows + t
            for r in 0..<rowTile {
                destination[r] = source.pointee
                source += d
            }
            destination += rowTile
        }
    }

    /// One 12-row tile (interleaved) against every centroid: leaves per row and
    /// lane the best similarity in `best` and its centroid index in `arg`.
    @inline(__always)
    private func kernel(
        rows: UnsafePointer<Float>, panels: UnsafePointer<SIMD16<Float>>, masks: UnsafePointer<SIMD16<Float>>,
        best: UnsafeMutablePointer<SIMD16<Float>>, arg: UnsafeMutablePointer<SIMD16<Int32>>
    ) {
        let d = dimension
        best.update(repeating: SIMD16(repeating: -.infinity), count: Self.rowTile)
        arg.update(repeating: .zero, count: Self.rowTile)
        let lanes = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        var p = 0
        while p + 1 < panelCount {
            let pa = panels + p * d
            let pb = panels + (p + 1) * d
            var a0 = SIMD16<Float>.zero, b0 = SIMD16<Float>.zero
            var a1 = SIMD16<Float>.zero, b1 = SIMD16<Float>.zero
            var a2 = SIMD16<Float>.zero, b2 = SIMD16<Float>.zero
            var a3 = SIMD16<Float>.zero, b3 = SIMD16<Float>.zero
            var a4 = SIMD16<Float>.zero, b4 = SIMD16<Float>.zero
            var a5 = SIMD16<Float>.zero, b5 = SIMD16<Float>.zero
            var a6 = SIMD16<Float>.zero, b6 = SIMD16<Float>.zero
            var a7 = SIMD16<Float>.zero, b7 = SIMD16<Float>.zero
            var a8 = SIMD16<Float>.zero, b8 = SIMD16<Float>.zero
            var a9 = SIMD16<Float>.zero, b9 = SIMD16<Float>.zero
            var a10 = SIMD16<Float>.zero, b10 = SIMD16<Float>.zero
            var a11 = SIMD16<Float>.zero, b11 = SIMD16<Float>.zero
            var row = rows
            for t in 0..<d {
                let va = pa[t], vb = pb[t]
                var x = SIMD16<Float>(repeating: row[0]); a0 = madd(a0, x, va); b0 = madd(b0, x, vb)
                x = SIMD16<Float>(repeating: row[1]); a1 = madd(a1, x, va); b1 = madd(b1, x, vb)
                x = SIMD16<Float>(repeating: row[2]); a2 = madd(a2, x, va); b2 = madd(b2, x, vb)
                x = SIMD16<Float>(repeating: row[3]); a3 = madd(a3, x, va); b3 = madd(b3, x, vb)
                x = SIMD16<Float>(repeating: row[4]); a4 = madd(a4, x, va); b4 = madd(b4, x, vb)
                x = SIMD16<Float>(repeating: row[5]); a5 = madd(a5, x, va); b5 = madd(b5, x, vb)
                x = SIMD16<Float>(repeating: row[6]); a6 = madd(a6, x, va); b6 = madd(b6, x, vb)
                x = SIMD16<Float>(repeating: row[7]); a7 = madd(a7, x, va); b7 = madd(b7, x, vb)
                x = SIMD16<Float>(repeating: row[8]); a8 = madd(a8, x, va); b8 = madd(b8, x, vb)
                x = SIMD16<Float>(repeating: row[9]); a9 = madd(a9, x, va); b9 = madd(b9, x, vb)
                x = SIMD16<Float>(repeating: row[10]); a10 = madd(a10, x, va); b10 = madd(b10, x, vb)
                x = SIMD16<Float>(repeating: row[11]); a11 = madd(a11, x, va); b11 = madd(b11, x, vb)
                row += Self.rowTile
            }
            let ma = masks[p], mb = masks[p + 1]
            let ia = SIMD16<Int32>(repeating: Int32(p * 16)) &+ lanes, ib = ia &+ 16
            Self.update(&best[0], &arg[0], a0 + ma, ia, b0 + mb, ib)
            Self.update(&best[1], &arg[1], a1 + ma, ia, b1 + mb, ib)
            Self.update(&best[2], &arg[2], a2 + ma, ia, b2 + mb, ib)
            Self.update(&best[3], &arg[3], a3 + ma, ia, b3 + mb, ib)
            Self.update(&best[4], &arg[4], a4 + ma, ia, b4 + mb, ib)
            Self.update(&best[5], &arg[5], a5 + ma, ia, b5 + mb, ib)
            Self.update(&best[6], &arg[6], a6 + ma, ia, b6 + mb, ib)
            Self.update(&best[7], &arg[7], a7 + ma, ia, b7 + mb, ib)
            Self.update(&best[8], &arg[8], a8 + ma, ia, b8 + mb, ib)
            Self.update(&best[9], &arg[9], a9 + ma, ia, b9 + mb, ib)
            Self.update(&best[10], &arg[10], a10 + ma, ia, b10 + mb, ib)
            Self.update(&best[11], &arg[11], a11 + ma, ia, b11 + mb, ib)
            p += 2
        }
        if p < panelCount {
            // An odd last panel: the same tile over one panel (12 accumulators).
            foldPanel(p, rows: rows, panels: panels, masks: masks, best: best, arg: arg)
        }
    }

    /// One 12-row tile (interleaved) against panel `p` alone, folded into the
    /// rows' per-lane bests: each row's dot products by the same operations as
    /// in the two-panel loop (one accumulator per lane, dimensions in order).
    @inline(__always)
    private func foldPanel(
        _ p: Int, rows: UnsafePointer<Float>, panels: UnsafePointer<SIMD16<Float>>, masks: UnsafePointer<SIMD16<Float>>,
        best: UnsafeMutablePointer<SIMD16<Float>>, arg: UnsafeMutablePointer<SIMD16<Int32>>
    ) {
        let d = dimension
        let lanes = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let pa = panels + p * d
        var a0 = SIMD16<Float>.zero
        var a1 = SIMD16<Float>.zero
        var a2 = SIMD16<Float>.zero
        var a3 = SIMD16<Float>.zero
        var a4 = SIMD16<Float>.zero
        var a5 = SIMD16<Float>.zero
        var a6 = SIMD16<Float>.zero
        var a7 = SIMD16<Float>.zero
        var a8 = SIMD16<Float>.zero
        var a9 = SIMD16<Float>.zero
        var a10 = SIMD16<Float>.zero
        var a11 = SIMD16<Float>.zero
        var row = rows
        for t in 0..<d {
            let va = pa[t]
            a0 = madd(a0, SIMD16<Float>(repeating: row[0]), va)
            a1 = madd(a1, SIMD16<Float>(repeating: row[1]), va)
            a2 = madd(a2, SIMD16<Float>(repeating: row[2]), va)
            a3 = madd(a3, SIMD16<Float>(repeating: row[3]), va)
            a4 = madd(a4, SIMD16<Float>(repeating: row[4]), va)
            a5 = madd(a5, SIMD16<Float>(repeating: row[5]), va)
            a6 = madd(a6, SIMD16<Float>(repeating: row[6]), va)
            a7 = madd(a7, SIMD16<Float>(repeating: row[7]), va)
            a8 = madd(a8, SIMD16<Float>(repeating: row[8]), va)
            a9 = madd(a9, SIMD16<Float>(repeating: row[9]), va)
            a10 = madd(a10, SIMD16<Float>(repeating: row[10]), va)
            a11 = madd(a11, SIMD16<Float>(repeating: row[11]), va)
            row += Self.rowTile
        }
        let ma = masks[p]
        let ia = SIMD16<Int32>(repeating: Int32(p * 16)) &+ lanes
        Self.update(&best[0], &arg[0], a0 + ma, ia)
        Self.update(&best[1], &arg[1], a1 + ma, ia)
        Self.update(&best[2], &arg[2], a2 + ma, ia)
        Self.update(&best[3], &arg[3], a3 + ma, ia)
        Self.update(&best[4], &arg[4], a4 + ma, ia)
        Self.update(&best[5], &arg[5], a5 + ma, ia)
        Self.update(&best[6], &arg[6], a6 + ma, ia)
        Self.update(&best[7], &arg[7], a7 + ma, ia)
        Self.update(&best[8], &arg[8], a8 + ma, ia)
        Self.update(&best[9], &arg[9], a9 + ma, ia)
        Self.update(&best[10], &arg[10], a10 + ma, ia)
        Self.update(&best[11], &arg[11], a11 + ma, ia)
    }

    /// One multiply-add step of the micro-kernel.
    ///
    /// With `-DPRUNER_FMA` (use together with `-target-cpu skylake-avx512` or
    /// another FMA-capable CPU) this is a fused multiply-add; without it, it is
    /// a multiply and an add, because on the baseline x86-64 target
    /// `addingProduct` becomes sixteen `fmaf` library calls (about 0.7 GFLOP/s).
    /// Results are deterministic within one build; FMA and non-FMA builds may
    /// differ in the last bit of a similarity.
    @inline(__always)
    private func madd(_ acc: SIMD16<Float>, _ x: SIMD16<Float>, _ v: SIMD16<Float>) -> SIMD16<Float> {
        #if PRUNER_FMA
        return acc.addingProduct(x, v)
        #else
        return acc + x * v
        #endif
    }

    /// Folds one panel's similarities into a row's per-lane best; strict `>` keeps the lowest index on ties.
    @inline(__always)
    static func update(
        _ best: inout SIMD16<Float>, _ arg: inout SIMD16<Int32>, _ a: SIMD16<Float>, _ ia: SIMD16<Int32>
    ) {
        let better = a .> best
        best.replace(with: a, where: better)
        arg.replace(with: ia, where: better)
    }

    /// Folds two panels' similarities into a row's per-lane best (panel `a` first).
    @inline(__always)
    private static func update(
        _ best: inout SIMD16<Float>, _ arg: inout SIMD16<Int32>,
        _ a: SIMD16<Float>, _ ia: SIMD16<Int32>, _ b: SIMD16<Float>, _ ib: SIMD16<Int32>
    ) {
        var better = a .> best
        best.replace(with: a, where: better)
        arg.replace(with: ia, where: better)
        better = b .> best
        best.replace(with: b, where: better)
        arg.replace(with: ib, where: better)
    }

    /// A row's result from its per-lane bests: the maximum, and the lowest index holding it.
    ///
    /// Halving reductions: `SIMD16.max()` is a scalar loop with NaN checks per lane
    /// (similarities are never NaN: rows and centroids are finite, padding is −∞).
    @inline(__always)
    static func reduce(best: SIMD16<Float>, arg: SIMD16<Int32>) -> (Int32, Float) {
        var m8 = best.lowHalf
        m8.replace(with: best.highHalf, where: best.highHalf .> m8)
        var m4 = m8.lowHalf
        m4.replace(with: m8.highHalf, where: m8.highHalf .> m4)
        var m2 = m4.lowHalf
        m2.replace(with: m4.highHalf, where: m4.highHalf .> m2)
        let maximum = m2[1] > m2[0] ? m2[1] : m2[0]
        let holders = SIMD16<Int32>(repeating: .max).replacing(with: arg, where: best .== SIMD16(repeating: maximum))
        var i8 = holders.lowHalf
        i8.replace(with: holders.highHalf, where: holders.highHalf .< i8)
        var i4 = i8.lowHalf
        i4.replace(with: i8.highHalf, where: i8.highHalf .< i4)
        var i2 = i4.lowHalf
        i2.replace(with: i4.highHalf, where: i4.highHalf .< i2)
        return (i2[1] < i2[0] ? i2[1] : i2[0], maximum)
    }
}

/// A kernel's identity (see `NearestCentroid.identity`): compared by reference.
final class KernelIdentity: Sendable {}

extension NearestCentroid {
    /// The kernel's chain for one row and one centroid, `rows[i] · centroids[clusters[i]]`
    /// for each i (rows and centroids row-major, `dimension` wide): one multiply-add per
    /// dimension, in dimension order, from zero, as every kernel computes each dot product
    /// (`madd`), so a result is bit for bit the similarity `assign` reports for that pair.
    /// Eight rows at a time: eight independent chains hide the multiply-add latency. With
    /// `rowIndices`, pair i is row `rowIndices[i]` (else row i) and centroid `clusters[i]`.
    static func chainDots(rows: UnsafePointer<Float>, count n: Int, centroids: UnsafePointer<Float>,
                          clusters: UnsafePointer<Int32>, rowIndices: UnsafePointer<Int32>? = nil,
                          dimension d: Int, into out: UnsafeMutablePointer<Float>) {
        var i = 0
        while i < n {
            let m = min(8, n - i)
            func x(_ q: Int) -> UnsafePointer<Float> {
                let pair = i + min(q, m - 1)
                return rows + (rowIndices.map { Int($0[pair]) } ?? pair) &* d
            }
            func c(_ q: Int) -> UnsafePointer<Float> { centroids + Int(clusters[i + min(q, m - 1)]) &* d }
            let x0 = x(0), x1 = x(1), x2 = x(2), x3 = x(3), x4 = x(4), x5 = x(5), x6 = x(6), x7 = x(7)
            let c0 = c(0), c1 = c(1), c2 = c(2), c3 = c(3), c4 = c(4), c5 = c(5), c6 = c(6), c7 = c(7)
            var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
            var a4: Float = 0, a5: Float = 0, a6: Float = 0, a7: Float = 0
            for t in 0..<d {
                a0 = scalarMadd(a0, x0[t], c0[t]); a1 = scalarMadd(a1, x1[t], c1[t])
                a2 = scalarMadd(a2, x2[t], c2[t]); a3 = scalarMadd(a3, x3[t], c3[t])
                a4 = scalarMadd(a4, x4[t], c4[t]); a5 = scalarMadd(a5, x5[t], c5[t])
                a6 = scalarMadd(a6, x6[t], c6[t]); a7 = scalarMadd(a7, x7[t], c7[t])
            }
            withUnsafeBytes(of: (a0, a1, a2, a3, a4, a5, a6, a7)) { raw in
                let results = raw.bindMemory(to: Float.self)
                for q in 0..<m { out[i + q] = results[q] }
            }
            i += m
        }
    }

    /// One lane of `madd`: the same operation on one float.
    @inline(__always)
    private static func scalarMadd(_ acc: Float, _ x: Float, _ v: Float) -> Float {
        #if PRUNER_FMA
        return acc.addingProduct(x, v)
        #else
        return acc + x * v
        #endif
    }

    /// A bound on |computed − exact| of one chain dot product of vectors with norms ≤ `norm`:
    /// γ_d · norm² (d roundings of u = 2⁻²⁴ each, Higham's γ_d = du / (1 − du)), padded.
    static func chainErrorBound(dimension d: Int, norm: Double) -> Double {
        let du = Double(d) * 0x1p-24
        return du / (1 - du) * norm * norm * 1.01 + 1e-12
    }
}

/// Small vector helpers over raw rows (kept here with the other pointer code).
enum VectorMath {
    /// Dot product of two `d`-vectors, 16 lanes at a time.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ d: Int) -> Float {
        var acc = SIMD16<Float>.zero
        var t = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while t + 16 <= d {
            acc += ra.loadUnaligned(fromByteOffset: t * 4, as: SIMD16<Float>.self)
                * rb.loadUnaligned(fromByteOffset: t * 4, as: SIMD16<Float>.self)
            t += 16
        }
        var s = acc.sum()
        while t < d { s += a[t] * b[t]; t += 1 }
        return s
    }

    /// Dot product of row `i` of `rows` and row `j` of `other`, both with dimension `d`.
    static func dot(_ rows: [Float], _ i: Int, _ other: [Float], _ j: Int, _ d: Int) -> Float {
        rows.withUnsafeBufferPointer { a in other.withUnsafeBufferPointer { b in dot(a.baseAddress! + i * d, b.baseAddress! + j * d, d) } }
    }

    /// Normalises every `d`-row of `v` in place; zero rows stay zero.
    static func normaliseRows(_ v: inout [Float], _ d: Int) {
        v.withUnsafeMutableBufferPointer { p in
            let n = p.count / d
            for i in 0..<n {
                let row = p.baseAddress! + i * d
                let s = dot(row, row, d)
                if s > 0 { let inv = 1 / s.squareRoot(); for t in 0..<d { row[t] *= inv } }
            }
        }
    }
}
