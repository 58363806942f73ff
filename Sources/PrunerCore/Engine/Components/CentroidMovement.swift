// How far the centroids moved since recent epochs: what lets a held record keep
// its concept without a full re-assignment (StreamingPruner+Reassignment.swift).
import DequeModule

/// Per centroid, a running upper bound on how far it has moved — the sum of its
/// moves' displacements ‖c' − c‖ (the triangle inequality bounds the net move by
/// it) — and that sum at each recent epoch, so that the largest move of any
/// centroid between an epoch and now is two subtractions away. A centroid replaced
/// by a spawn counts as moved by 2.02, more than two vectors of norm ≤ 1.01 can be
/// apart: no margin survives it.
///
/// Not checkpointed (it is a cache of what re-assignment may skip): a restored
/// engine has no history, and records of epochs it does not know are assigned in
/// full, which gives the same decisions. It also maps the kernels the engine built
/// to the epoch of their centroids, so that a batch assigned ahead by an older
/// kernel can be corrected instead of assigned again.
struct CentroidMovement: Sendable {
    /// Per centroid, the cumulative displacement bound.
    private var totals: [Double]
    /// `totals` at epochs `firstEpoch ..< firstEpoch + snapshots.count`, oldest first.
    private var snapshots = Deque<[Double]>()
    private var firstEpoch: UInt32 = 0
    /// Kernels built by the engine and their centroids' epoch, newest last (the identity held
    /// alive here, so one is never mistaken for a later kernel at the same address).
    private var kernels: [(identity: KernelIdentity, epoch: UInt32)] = []
    /// `moves(since:to:top:)`'s answers for the epochs asked about since the last change.
    private var farthest: [UInt32: (farthest: [(centroid: Int32, move: Double)], beyond: Double)] = [:]

    /// Epochs remembered: ~2× the default look-ahead's moves (20,000 / 256), and k doubles each.
    static let retainedEpochs = 160
    /// What a replaced centroid counts as moved by.
    static let replacement = 2.02

    init(clusters k: Int) {
        totals = [Double](repeating: 0, count: k)
    }

    /// Centroid `j` moved by `displacement` (an upper bound of ‖c' − c‖).
    mutating func moved(_ j: Int, by displacement: Double) {
        totals[j] += displacement
    }

    /// Centroid `j` was replaced (a spawn).
    mutating func replaced(_ j: Int) {
        totals[j] += Self.replacement
    }

    /// The centroids of `epoch` are in place: remembers the totals as that epoch's.
    mutating func began(_ epoch: UInt32) {
        farthest.removeAll(keepingCapacity: true)
        if snapshots.isEmpty || epoch != firstEpoch &+ UInt32(snapshots.count) {
            snapshots = [totals]
            firstEpoch = epoch
        } else {
            snapshots.append(totals)
            if snapshots.count > Self.retainedEpochs {
                snapshots.removeFirst()
                firstEpoch &+= 1
            }
        }
        kernels.removeAll { $0.epoch < firstEpoch || $0.epoch > epoch }
    }

    /// Remembers that `kernel` assigns with the centroids of `epoch`.
    mutating func register(_ kernel: NearestCentroid, epoch: UInt32) {
        if let last = kernels.last, last.identity === kernel.identity { return }
        kernels.append((kernel.identity, epoch))
        if kernels.count > Self.retainedEpochs + 8 { kernels.removeFirst() }
    }

    /// The epoch of `kernel`'s centroids, if the engine built it and still knows its epoch.
    func epoch(of kernel: NearestCentroid) -> UInt32? {
        for entry in kernels.reversed() where entry.identity === kernel.identity {
            return isKnown(entry.epoch) ? entry.epoch : nil
        }
        return nil
    }

    private func isKnown(_ epoch: UInt32) -> Bool {
        epoch >= firstEpoch && Int(epoch - firstEpoch) < snapshots.count
    }

    /// The `top` centroids that moved farthest from `epoch` to `now`, farthest first, each with
    /// an upper bound of its move, and a bound on every other centroid's move (`beyond`); nil
    /// unless both epochs are remembered and `now` is the latest.
    mutating func moves(since epoch: UInt32, to now: UInt32, top: Int)
        -> (farthest: [(centroid: Int32, move: Double)], beyond: Double)? {
        guard isKnown(epoch), isKnown(now), Int(now - firstEpoch) == snapshots.count - 1 else { return nil }
        if let cached = farthest[epoch] { return cached }
        let then = snapshots[Int(epoch - firstEpoch)], latest = snapshots[snapshots.count - 1]
        // A small sorted list by insertion: most centroids fall below its last entry at once.
        var list = [(centroid: Int32, move: Double)]()
        list.reserveCapacity(top + 1)
        var beyond = 0.0
        for c in 0..<latest.count where latest[c] > then[c] {
            // The subtraction of two rounded sums: padded.
            let m = (latest[c] - then[c]) * (1 + 1e-9) + 1e-12
            if list.count == top && m <= list[top - 1].move { beyond = max(beyond, m); continue }
            var at = list.count
            while at > 0 && list[at - 1].move < m { at -= 1 }
            list.insert((Int32(c), m), at: at)
            if list.count > top { beyond = max(beyond, list.removeLast().move) }
        }
        farthest[epoch] = (list, beyond)
        return (list, beyond)
    }
}
