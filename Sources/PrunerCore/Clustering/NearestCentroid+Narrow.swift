// The float32 kernel for CPUs with 16 vector registers of 8 floats (AVX2):
// a 6-row × 16-centroid register tile, cache-blocked over panels.
// With NearestCentroid.swift and TileScreen.swift, the only pointer code of the
// core's clustering.
import CMatrixTiles

extension NearestCentroid {
    /// The shape of the float32 kernel's register tile, chosen for the CPU's vector registers.
    ///
    /// Both shapes compute every dot product by the same operations — one
    /// multiply-add per dimension, in dimension order, per (row, centroid) lane —
    /// and fold panels into the per-lane bests in increasing order, so they give
    /// the same assignments and similarities bit for bit (tested). Only speed
    /// differs: the wide tile's 24 accumulators of 16 floats need AVX-512's 32
    /// registers; on AVX2 each is two registers and the tile spills to memory
    /// (measured on an AMD EPYC without AVX-512: ~30 GFLOP/s per core, against
    /// the narrow tile's figure in docs/performance.md).
    public enum RegisterTile: String, Sendable, CaseIterable {
        /// 12 rows × 32 centroids in 24 16-float accumulators: for AVX-512.
        case wide = "12x32"
        /// 6 rows × 16 centroids in 12 8-float accumulators: for AVX2.
        case narrow = "6x16"

        /// The shape for this CPU: wide where it has AVX-512F, narrow otherwise
        /// (`KernelChoice` carries an override, e.g. from `PRUNERD_KERNEL`).
        public static var preferred: RegisterTile { KernelChoice.fastest.registerTile }
    }

    /// Rows of the narrow register tile.
    static let narrowRows = 6

    /// `assignSerially` with the narrow tile. Rows are taken in chunks small
    /// enough to stay in L2 once interleaved; for each chunk, the panels are
    /// visited in blocks of ~192 KB (every tile of the chunk against one block
    /// before the next), so the centroids stream from L2 rather than from L3
    /// once per 6 rows. Every row still meets the panels in increasing order.
    func assignNarrow(
        rows: UnsafeBufferPointer<Float>, count n: Int,
        into assignments: UnsafeMutableBufferPointer<Int32>,
        similarities: UnsafeMutableBufferPointer<Float>
    ) {
        let d = dimension
        let tile = Self.narrowRows
        let chunkRows = max(tile, (36 * 1024 / d) / tile * tile)          // ~144 KB of rows
        let panelsPerBlock = max(1, (192 * 1024) / (d * MemoryLayout<SIMD16<Float>>.stride))
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: chunkRows * d)
        // Per row, the per-lane bests as two 8-lane halves (AVX2 compares and blends 8 lanes).
        let best = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 2 * chunkRows)
        let arg = UnsafeMutablePointer<SIMD8<Int32>>.allocate(capacity: 2 * chunkRows)
        defer { packed.deallocate(); best.deallocate(); arg.deallocate() }
        panels.withUnsafeBufferPointer { panelBuffer in
            masks.withUnsafeBufferPointer { maskBuffer in
                let panelBase = UnsafeRawPointer(panelBuffer.baseAddress!)
                var start = 0
                while start < n {
                    let m = min(chunkRows, n - start)
                    let tiles = (m + tile - 1) / tile
                    for t in 0..<tiles {
                        Self.interleaveNarrow(rows: rows.baseAddress! + (start + t * tile) * d,
                                              count: min(tile, m - t * tile), dimension: d, into: packed + t * tile * d)
                    }
                    best.initialize(repeating: SIMD8(repeating: -.infinity), count: 2 * tiles * tile)
                    arg.initialize(repeating: .zero, count: 2 * tiles * tile)
                    var block = 0
                    while block < panelCount {
                        let blockEnd = min(panelCount, block + panelsPerBlock)
                        for t in 0..<tiles {
                            for p in block..<blockEnd {
                                narrowTile(rows: packed + t * tile * d, panel: panelBase + p * d * 64,
                                           mask: maskBuffer[p], firstIndex: Int32(p * 16),
                                           best: best + 2 * t * tile, arg: arg + 2 * t * tile)
                            }
                        }
                        block = blockEnd
                    }
                    for r in 0..<m {
                        let (index, similarity) = Self.reduce(best: SIMD16(lowHalf: best[2 * r], highHalf: best[2 * r + 1]),
                                                              arg: SIMD16(lowHalf: arg[2 * r], highHalf: arg[2 * r + 1]))
                        assignments[start + r] = index
                        similarities[start + r] = similarity
                    }
                    start += m
                }
            }
        }
    }

    /// Copies `count` ≤ 6 rows into the narrow tile layout `packed[t · 6 + r]`, zero-filling missing rows.
    /// A full tile is transposed four dimensions at a time (six 4-float loads, six
    /// 4-float stores): element by element it was an eighth of the kernel at k = 100.
    @inline(__always)
    static func interleaveNarrow(rows: UnsafePointer<Float>, count m: Int, dimension d: Int,
                                 into packed: UnsafeMutablePointer<Float>) {
        let tile = narrowRows
        var t = 0
        if m == tile {
            let source = UnsafeRawPointer(rows), destination = UnsafeMutableRawPointer(packed)
            let stride = d &* 4
            while t &+ 4 <= d {
                let offset = t &* 4
                let a0 = source.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self)
                let a1 = source.loadUnaligned(fromByteOffset: offset &+ stride, as: SIMD4<Float>.self)
                let a2 = source.loadUnaligned(fromByteOffset: offset &+ 2 &* stride, as: SIMD4<Float>.self)
                let a3 = source.loadUnaligned(fromByteOffset: offset &+ 3 &* stride, as: SIMD4<Float>.self)
                let a4 = source.loadUnaligned(fromByteOffset: offset &+ 4 &* stride, as: SIMD4<Float>.self)
                let a5 = source.loadUnaligned(fromByteOffset: offset &+ 5 &* stride, as: SIMD4<Float>.self)
                let out = destination + (t &* tile &* 4)
                out.storeBytes(of: SIMD4(a0[0], a1[0], a2[0], a3[0]), toByteOffset: 0, as: SIMD4<Float>.self)
                out.storeBytes(of: SIMD4(a4[0], a5[0], a0[1], a1[1]), toByteOffset: 16, as: SIMD4<Float>.self)
                out.storeBytes(of: SIMD4(a2[1], a3[1], a4[1], a5[1]), toByteOffset: 32, as: SIMD4<Float>.self)
                out.storeBytes(of: SIMD4(a0[2], a1[2], a2[2], a3[2]), toByteOffset: 48, as: SIMD4<Float>.self)
                out.storeBytes(of: SIMD4(a4[2], a5[2], a0[3], a1[3]), toByteOffset: 64, as: SIMD4<Float>.self)
                out.storeBytes(of: SIMD4(a2[3], a3[3], a4[3], a5[3]), toByteOffset: 80, as: SIMD4<Float>.self)
                t &+= 4
            }
        } else {
            packed.update(repeating: 0, count: tile &* d)
        }
        for r in 0..<m {
            let row = rows + r &* d
            var destination = packed + (t &* tile &+ r)
            for u in t..<d {
                destination.pointee = row[u]
                destination += tile
            }
        }
    }

    /// One 6-row tile (interleaved) against one panel of 16 centroids, folded
    /// into the rows' per-lane bests. Per dimension: two 8-float panel loads, six
    /// broadcasts, twelve multiply-adds — 15 of AVX2's 16 registers.
    @inline(__always)
    func narrowTile(
        rows: UnsafePointer<Float>, panel: UnsafeRawPointer, mask: SIMD16<Float>, firstIndex: Int32,
        best: UnsafeMutablePointer<SIMD8<Float>>, arg: UnsafeMutablePointer<SIMD8<Int32>>
    ) {
        var l0 = SIMD8<Float>.zero, h0 = SIMD8<Float>.zero
        var l1 = SIMD8<Float>.zero, h1 = SIMD8<Float>.zero
        var l2 = SIMD8<Float>.zero, h2 = SIMD8<Float>.zero
        var l3 = SIMD8<Float>.zero, h3 = SIMD8<Float>.zero
        var l4 = SIMD8<Float>.zero, h4 = SIMD8<Float>.zero
        var l5 = SIMD8<Float>.zero, h5 = SIMD8<Float>.zero
        var row = rows
        var column = panel
        for _ in 0..<dimension {
            let vl = column.loadUnaligned(as: SIMD8<Float>.self)
            let vh = column.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            var x = SIMD8<Float>(repeating: row[0]); l0 = madd8(l0, x, vl); h0 = madd8(h0, x, vh)
            x = SIMD8<Float>(repeating: row[1]); l1 = madd8(l1, x, vl); h1 = madd8(h1, x, vh)
            x = SIMD8<Float>(repeating: row[2]); l2 = madd8(l2, x, vl); h2 = madd8(h2, x, vh)
            x = SIMD8<Float>(repeating: row[3]); l3 = madd8(l3, x, vl); h3 = madd8(h3, x, vh)
            x = SIMD8<Float>(repeating: row[4]); l4 = madd8(l4, x, vl); h4 = madd8(h4, x, vh)
            x = SIMD8<Float>(repeating: row[5]); l5 = madd8(l5, x, vl); h5 = madd8(h5, x, vh)
            row += Self.narrowRows
            column += 64
        }
        let lanes = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
        let lowIndex = SIMD8<Int32>(repeating: firstIndex) &+ lanes, highIndex = lowIndex &+ 8
        let lowMask = mask.lowHalf, highMask = mask.highHalf
        Self.update8(best, arg, l0 + lowMask, lowIndex, h0 + highMask, highIndex)
        Self.update8(best + 2, arg + 2, l1 + lowMask, lowIndex, h1 + highMask, highIndex)
        Self.update8(best + 4, arg + 4, l2 + lowMask, lowIndex, h2 + highMask, highIndex)
        Self.update8(best + 6, arg + 6, l3 + lowMask, lowIndex, h3 + highMask, highIndex)
        Self.update8(best + 8, arg + 8, l4 + lowMask, lowIndex, h4 + highMask, highIndex)
        Self.update8(best + 10, arg + 10, l5 + lowMask, lowIndex, h5 + highMask, highIndex)
    }

    /// `update` on a row's two 8-lane halves (strict `>`: the lowest index wins ties, as in `update`).
    @inline(__always)
    static func update8(_ best: UnsafeMutablePointer<SIMD8<Float>>, _ arg: UnsafeMutablePointer<SIMD8<Int32>>,
                        _ low: SIMD8<Float>, _ lowIndex: SIMD8<Int32>, _ high: SIMD8<Float>, _ highIndex: SIMD8<Int32>) {
        let lowBetter = low .> best[0], highBetter = high .> best[1]
        best[0].replace(with: low, where: lowBetter)
        arg[0].replace(with: lowIndex, where: lowBetter)
        best[1].replace(with: high, where: highBetter)
        arg[1].replace(with: highIndex, where: highBetter)
    }

    /// `madd` on 8 lanes: fused where the wide kernel's is, so both shapes agree bit for bit.
    @inline(__always)
    func madd8(_ acc: SIMD8<Float>, _ x: SIMD8<Float>, _ v: SIMD8<Float>) -> SIMD8<Float> {
        #if PRUNER_FMA
        return acc.addingProduct(x, v)
        #else
        return acc + x * v
        #endif
    }
}
