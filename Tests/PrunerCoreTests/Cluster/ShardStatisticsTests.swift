// Shard statistics merge exactly, and their snapshots survive the wire (or are
// refused with the byte offset and the reason).
import Testing
@testable import PrunerCore

@Suite struct ShardStatisticsTests {
    /// Statistics of `members` random distances spread over `clusters` concepts.
    static func random(clusters: Int, members: Int, seed: UInt64) -> ShardStatistics {
        var rng = Xoshiro256StarStar(seed: seed)
        var s = ShardStatistics(clusters: clusters, dimension: 8)
        for _ in 0..<members {
            let j = rng.nextInt(below: clusters)
            s.concepts[j].add(distance: Float(0.2 + 0.6 * rng.nextUnit()), vector: nil, rng: &rng)
            if rng.nextUnit() < 0.3 { s.concepts[j].kept += 1; s.kept += 1 } else { s.concepts[j].dropped += 1; s.dropped += 1 }
        }
        s.arrivals = members
        return s
    }

    @Test func mergeIsAssociativeAndCommutativeWithEmptyAsIdentity() {
        let a = Self.random(clusters: 12, members: 3000, seed: 1)
        let b = Self.random(clusters: 12, members: 1700, seed: 2)
        let c = Self.random(clusters: 12, members: 40, seed: 3)
        #expect((a + b) + c == a + (b + c))
        #expect(a + b == b + a)
        #expect(a + ShardStatistics(clusters: 12, dimension: 8) == a)
        let sum = a + b + c
        #expect(sum.arrivals == 4740)
        #expect(sum.concepts.map(\.count).reduce(0, +) == 4740)
        // A quantile of the merge equals the two-sided quantile without merging.
        for j in 0..<12 {
            for q in [0.0, 0.1, 0.5, 0.7, 0.99, 1.0] {
                #expect(sum.concepts[j].quantile(q) == (a + b).concepts[j].quantile(q, together: c.concepts[j]))
            }
        }
    }

    /// Redis away: the others' last statistics grow by `scale` times this shard's own growth,
    /// shaped like this shard's members since its first view, and stay consistent.
    @Test func carriedForwardGrowsTheOthersLikeThisShard() {
        let others = Self.random(clusters: 12, members: 9000, seed: 4)
        let base = Self.random(clusters: 12, members: 3000, seed: 5)
        let now = base + Self.random(clusters: 12, members: 2000, seed: 6)
        #expect(others.carriedForward(own: base, since: base, shapeBase: base, scale: 3) == others)
        #expect(others.carriedForward(own: now, since: base, shapeBase: base, scale: 0) == others)
        let estimate = others.carriedForward(own: now, since: base, shapeBase: base, scale: 3)
        #expect(estimate.arrivals == 9000 + 6000)
        let members = estimate.concepts.map(\.count).reduce(0, +)
        #expect(abs(members - 15_000) <= 150, "\(members) members: about 3 × 2,000 more")
        #expect(abs(estimate.kept - (others.kept + 3 * (now.kept - base.kept))) <= 1)
        #expect(abs(estimate.concepts.map(\.kept).reduce(0, +) - estimate.kept) <= 12, "per-concept kept counts add up to the total, to rounding")
        for j in 0..<12 {
            // The count is its histogram's sum, so quantiles read a consistent histogram.
            #expect(estimate.concepts[j].count == estimate.concepts[j].histogram.reduce(0) { $0 + Int($1) })
            // Distances uniform on [0.2, 0.8]: the estimate's median stays the stream's.
            #expect(abs(Double(estimate.concepts[j].quantile(0.5)) - 0.5) < 0.03)
            #expect(abs(estimate.concepts[j].meanDistance - 0.5) < 0.03)
        }
    }

    /// A concept whose members since the first view are spread thin (about one a bin) still grows
    /// by the whole estimate: rounded bin by bin, each bin's share (under half a member) rounded to
    /// nothing and the others' members stopped growing, as if the view were frozen.
    @Test func carriedForwardGrowsAThinlySpreadConceptByTheWholeEstimate() {
        let others = Self.random(clusters: 1, members: 900, seed: 7)
        let base = Self.random(clusters: 1, members: 300, seed: 8)
        let now = base + Self.random(clusters: 1, members: 100, seed: 10)
        let occupied = zip(now.concepts[0].histogram, base.concepts[0].histogram).filter { $0 > $1 }.count
        #expect(occupied > 80, "the 100 new members sit in \(occupied) bins")
        let estimate = others.carriedForward(own: now, since: base, shapeBase: base, scale: 0.4)
        #expect(estimate.concepts[0].count == 900 + 40)
        #expect(estimate.concepts[0].count == estimate.concepts[0].histogram.reduce(0) { $0 + Int($1) })
    }

    @Test func snapshotRoundTripsAndIsSmall() throws {
        let stats = Self.random(clusters: 100, members: 20_000, seed: 9)
        let snapshot = ShardSnapshot(shard: "host-a:4242", epoch: 1, sequence: 77, dimension: 384, statistics: stats)
        let bytes = snapshot.encoded()
        var back = try ShardSnapshot(decoding: bytes, what: "test")
        // Decoding rebuilds the statistics at the snapshot's dimension.
        back.statistics.concepts = back.statistics.concepts.map { c in
            var d8 = ConceptStatistics(dimension: 8, reservoirCapacity: 0)
            d8.count = c.count; d8.distanceSum = c.distanceSum; d8.histogram = c.histogram; d8.kept = c.kept; d8.dropped = c.dropped
            return d8
        }
        #expect(back == snapshot)
        // 200 members per concept over ~1,230 bins: about one byte a bin, far below 100 × 4096 × 4.
        #expect(bytes.count < 100 * 1500)
    }

    @Test func damagedSnapshotsAreRefusedWithOffsetAndReason() throws {
        let snapshot = ShardSnapshot(shard: "s", epoch: 1, sequence: 1, dimension: 8,
                                     statistics: Self.random(clusters: 3, members: 50, seed: 4))
        let bytes = snapshot.encoded()
        var flipped = bytes
        flipped[30] ^= 0x40
        #expect(throws: ClusterCodingError.self) { try ShardSnapshot(decoding: flipped, what: "k") }
        do {
            _ = try ShardSnapshot(decoding: flipped, what: "prunerd:x:shard:s")
            Issue.record("a flipped byte decoded")
        } catch {
            guard case .checksumMismatch(let what, _, _) = error else { Issue.record("\(error)"); return }
            #expect(what == "prunerd:x:shard:s")
        }
        do {
            _ = try ShardSnapshot(decoding: Array("nonsense, not a snapshot".utf8), what: "k")
            Issue.record("nonsense decoded")
        } catch {
            #expect(error == .badMagic(what: "k"))
        }
        // A well-formed CRC over a truncated body: the offset says where it ended.
        var short = Array(bytes[0..<(bytes.count - 20)])
        short.append(contentsOf: withUnsafeBytes(of: CRC32.checksum(short).littleEndian) { Array($0) })
        do {
            _ = try ShardSnapshot(decoding: short, what: "k")
            Issue.record("a truncated snapshot decoded")
        } catch {
            switch error {
            case .truncated(_, let offset), .malformed(_, let offset, _): #expect(offset > 8 && offset <= short.count - 4)
            default: Issue.record("\(error)")
            }
        }
    }

    @Test func epochRoundTrips() throws {
        let c = (0..<(5 * 7)).map { Float($0) / 35 }
        let epoch = CentroidEpoch(epoch: 1, leader: "a", clusters: 5, dimension: 7, centroids: c)
        let bytes = epoch.encoded()
        #expect(bytes.count == 5 * 7 * 4 + 8 + 4 + 4 + 9 + 4 + 4 + 4)
        #expect(try CentroidEpoch(decoding: bytes, what: "e") == epoch)
    }

    @Test func viewKeepsEachShardsLatestAndForgetsThoseThatLeft() {
        var view = ClusterView(own: "me")
        let a1 = ShardSnapshot(shard: "a", epoch: 1, sequence: 1, dimension: 8, statistics: Self.random(clusters: 4, members: 10, seed: 1))
        let a2 = ShardSnapshot(shard: "a", epoch: 1, sequence: 2, dimension: 8, statistics: Self.random(clusters: 4, members: 30, seed: 2))
        let b = ShardSnapshot(shard: "b", epoch: 1, sequence: 5, dimension: 8, statistics: Self.random(clusters: 4, members: 7, seed: 3))
        let stale = ShardSnapshot(shard: "c", epoch: 0, sequence: 1, dimension: 8, statistics: Self.random(clusters: 4, members: 99, seed: 4))
        let mine = ShardSnapshot(shard: "me", epoch: 1, sequence: 9, dimension: 8, statistics: Self.random(clusters: 4, members: 5, seed: 5))
        let taken = [view.offer(a2), view.offer(a1), view.offer(b), view.offer(stale), view.offer(mine)]
        // An older sequence never replaces a newer one; the shard's own snapshot is not another's.
        #expect(taken == [true, false, true, true, false])
        #expect(view.others(epoch: 1, clusters: 4, dimension: 8).arrivals == 37, "other epochs are not added")
        view.retain(only: ["b"])
        #expect(view.others(epoch: 1, clusters: 4, dimension: 8).arrivals == 7)
    }
}
