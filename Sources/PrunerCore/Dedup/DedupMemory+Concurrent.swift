// Near-duplicate checks for a run of records, shared out among threads by concept.
// Pointer code of the dedup pass lives here and in DedupMemory.swift.
import Dispatch

extension DedupMemory {
    /// Below this many rows a run is checked on the calling thread (hand-off would cost more).
    static let rowsPerThreadMinimum = 64

    /// Checks a run of rows against their concepts' memories, remembering them as `check` does.
    ///
    /// Concept memories are independent and each concept's rows are checked in
    /// their order, so sharing concepts out among threads (concept j goes to
    /// thread j mod `threads`) gives exactly the verdicts of one serial pass,
    /// whatever the thread count. This takes the memory scan — the bulk of the
    /// dedup cost once rings fill — off the engine's serial path. Each thread
    /// checks its concepts one after another, each concept's rows back to back,
    /// so a ring's sketches are read from memory once per run rather than once
    /// per row (a run of 4096 rows has ~8 per concept at k = 500).
    /// - Parameters:
    ///   - rows: the run's rows, `concepts.count × dimension`, row-major.
    ///   - concepts: per row its concept, or −1 for a row that is not checked (it stays `false`).
    ///   - centroids: `k × dimension`; a concept's row becomes its memory's centre when the memory is empty.
    /// - Returns: per row, true for a near-copy of a remembered member.
    static func check(rows: UnsafeBufferPointer<Float>, concepts: [Int32], memories: inout [DedupMemory],
                      centroids: [Float], epsilon: Double, threads: Int) -> [Bool] {
        let n = concepts.count
        var duplicate = [Bool](repeating: false, count: n)
        guard n > 0, let d = memories.first?.dimension else { return duplicate }
        let parts = max(1, min(threads, n / rowsPerThreadMinimum))
        let order = rowsByConcept(concepts, memoryCount: memories.count)
        memories.withUnsafeMutableBufferPointer { memory in
            duplicate.withUnsafeMutableBufferPointer { verdicts in
                let shared = SharedRun(rows: rows, memories: memory, verdicts: verdicts)
                let checkPart: @Sendable (Int) -> Void = { part in
                    for i in order where Int(concepts[i]) % parts == part {
                        let j = Int(concepts[i])
                        let row = UnsafeBufferPointer(rebasing: shared.rows[(i * d)..<(i * d + d)])
                        shared.verdicts[i] = shared.memories[j].check(row, centroid: centroids[(j * d)..<(j * d + d)],
                                                                      epsilon: epsilon)
                    }
                }
                if parts == 1 { checkPart(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: checkPart) }
            }
        }
        return duplicate
    }

    /// The checked rows (concept ≥ 0) sorted by concept, each concept's in their order (a counting sort).
    static func rowsByConcept(_ concepts: [Int32], memoryCount k: Int) -> [Int] {
        var start = [Int](repeating: 0, count: k + 1)
        for j in concepts where j >= 0 { start[Int(j) + 1] += 1 }
        for j in 0..<k { start[j + 1] += start[j] }
        var order = [Int](repeating: 0, count: start[k])
        for (i, j) in concepts.enumerated() where j >= 0 {
            order[start[Int(j)]] = i
            start[Int(j)] += 1
        }
        return order
    }

    /// The buffers of one run, handed to its threads: each touches only its own concepts' memories and rows' verdicts.
    private struct SharedRun: @unchecked Sendable {
        let rows: UnsafeBufferPointer<Float>
        let memories: UnsafeMutableBufferPointer<DedupMemory>
        let verdicts: UnsafeMutableBufferPointer<Bool>
    }
}
