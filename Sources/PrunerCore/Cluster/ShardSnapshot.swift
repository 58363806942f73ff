// The versioned binary form of what a cluster shard publishes each sync, and of
// the centroid epochs every shard adopts.
//
// Snapshot layout (little-endian; varint = LEB128, unsigned):
//   "PRNSHARD"   8 bytes magic
//   version      u32 (1)
//   shard        u64 length + UTF-8 bytes
//   epoch        u32   centroid epoch the statistics were measured against
//   sequence     u64   increases with every snapshot of this shard
//   clusters     u32, dimension u32, bins u32 (ConceptStatistics.binCount)
//   arrivals, kept, dropped    varints
//   per concept: count, distance sum (2^-24 units), kept, dropped, first
//                non-zero bin, number of bins from there to the last non-zero
//                one, then those bins: all varints
//   crc32        u32 over every byte before it
//
// Histograms are sent from their first to their last non-zero bin, as varints:
// a concept's distances fill a few hundred of the 4,096 bins, most of them small
// counts, so a concept costs a few hundred bytes rather than 16 KiB.
//
// Epoch layout: "PRNEPOCH", version u32 (1), epoch u32, leader (u64 length +
// UTF-8), clusters u32, dimension u32, k × d float32 centroids, crc32.

/// Why bytes from the cluster store are not a snapshot or an epoch this build reads.
public enum ClusterCodingError: Error, Equatable, CustomStringConvertible {
    case badMagic(what: String)
    case unsupportedVersion(what: String, version: UInt32)
    case checksumMismatch(what: String, expected: UInt32, actual: UInt32)
    case truncated(what: String, offset: Int)
    case malformed(what: String, offset: Int, reason: String)

    public var description: String {
        switch self {
        case .badMagic(let w): return "\(w): not a prunerd cluster record (bad magic at byte 0)"
        case .unsupportedVersion(let w, let v): return "\(w): version \(v) is not supported (this build reads version 1)"
        case .checksumMismatch(let w, let e, let a):
            return "\(w): corrupt, CRC-32 is 0x\(String(a, radix: 16)), stored 0x\(String(e, radix: 16))"
        case .truncated(let w, let o): return "\(w): truncated at byte \(o)"
        case .malformed(let w, let o, let r): return "\(w): malformed at byte \(o): \(r)"
        }
    }
}

/// One shard's published statistics at one moment.
public struct ShardSnapshot: Sendable, Equatable {
    /// The shard's id (`--shard-id`).
    public var shard: String
    /// The centroid epoch the statistics are measured against (0: none yet).
    public var epoch: UInt32
    /// Increases with every snapshot the shard publishes; a reader keeps the highest.
    public var sequence: UInt64
    /// Dimension of the embeddings (the statistics themselves hold none).
    public var dimension: Int
    public var statistics: ShardStatistics

    public init(shard: String, epoch: UInt32, sequence: UInt64, dimension: Int, statistics: ShardStatistics) {
        self.shard = shard; self.epoch = epoch; self.sequence = sequence
        self.dimension = dimension; self.statistics = statistics
    }

    static let magic = Array("PRNSHARD".utf8)
    /// The snapshot format this build writes and reads.
    public static let version: UInt32 = 1

    /// The snapshot as bytes (see the layout at the top of this file).
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.bytes.append(contentsOf: Self.magic)
        w.u32(Self.version)
        w.string(shard)
        w.u32(epoch)
        w.u64(sequence)
        w.u32(UInt32(statistics.clusters))
        w.u32(UInt32(dimension))
        w.u32(UInt32(ConceptStatistics.binCount))
        w.varint(statistics.arrivals)
        w.varint(statistics.kept)
        w.varint(statistics.dropped)
        for concept in statistics.concepts {
            w.varint(concept.count)
            w.varint(concept.distanceSum)
            w.varint(concept.kept)
            w.varint(concept.dropped)
            let bins = concept.histogram
            guard let first = bins.firstIndex(where: { $0 != 0 }), let last = bins.lastIndex(where: { $0 != 0 }) else {
                w.varint(0); w.varint(0)
                continue
            }
            w.varint(first)
            w.varint(last - first + 1)
            for b in first...last { w.varint(UInt64(bins[b])) }
        }
        w.u32(CRC32.checksum(w.bytes))
        return w.bytes
    }

    /// Decodes `encoded()`; `what` names the bytes' origin (e.g. the Redis key) in errors.
    /// - Throws: [`ClusterCodingError`] naming the byte offset and the reason.
    public init(decoding bytes: [UInt8], what: String) throws(ClusterCodingError) {
        var r = try ClusterReader.open(bytes, magic: Self.magic, what: what)
        do {
            shard = try r.reader.string()
            epoch = try r.reader.u32()
            sequence = try r.reader.u64()
            let clusters = Int(try r.reader.u32()), d = Int(try r.reader.u32()), binCount = Int(try r.reader.u32())
            guard binCount == ConceptStatistics.binCount else {
                throw r.malformed("\(binCount) histogram bins, this build uses \(ConceptStatistics.binCount)")
            }
            guard clusters >= 1, clusters <= 1 << 20 else { throw r.malformed("\(clusters) concepts") }
            guard d >= 1, d <= StreamingPruner.maxCheckpointDimension else { throw r.malformed("dimension \(d)") }
            dimension = d
            var stats = ShardStatistics(clusters: clusters, dimension: d)
            stats.arrivals = try r.int()
            stats.kept = try r.int()
            stats.dropped = try r.int()
            var bins = [UInt32](repeating: 0, count: binCount)
            for j in 0..<clusters {
                var concept = ConceptStatistics(dimension: d, reservoirCapacity: 0)
                concept.count = try r.int()
                concept.distanceSum = try r.reader.varint()
                concept.kept = try r.int()
                concept.dropped = try r.int()
                let first = try r.int(), span = try r.int()
                guard first <= binCount, span <= binCount - first else {
                    throw r.malformed("concept \(j): bins \(first) + \(span) beyond \(binCount)")
                }
                for b in bins.indices { bins[b] = 0 }
                var total = 0
                for b in first..<(first + span) {
                    let v = try r.reader.varint()
                    guard v <= UInt64(UInt32.max) else { throw r.malformed("concept \(j): bin count \(v)") }
                    bins[b] = UInt32(v)
                    total += Int(v)
                }
                guard total == concept.count else {
                    throw r.malformed("concept \(j): histogram holds \(total) members, count says \(concept.count)")
                }
                concept.histogram = bins
                stats.concepts[j] = concept
            }
            statistics = stats
            try r.finish()
        } catch CheckpointError.truncated {
            throw .truncated(what: what, offset: r.reader.offset)
        } catch let error as ClusterCodingError {
            throw error
        } catch {
            throw .malformed(what: what, offset: r.reader.offset, reason: "\(error)")
        }
    }
}

/// Centroids every shard decides against, numbered so that statistics measured
/// against different centroids are never added together.
public struct CentroidEpoch: Sendable, Equatable {
    /// 1 for the first centroids; a new set of centroids would take the next number.
    public var epoch: UInt32
    /// The shard that fitted them.
    public var leader: String
    public var clusters: Int
    public var dimension: Int
    /// `clusters × dimension`, row-major, unit rows.
    public var centroids: [Float]

    public init(epoch: UInt32, leader: String, clusters: Int, dimension: Int, centroids: [Float]) {
        self.epoch = epoch; self.leader = leader; self.clusters = clusters
        self.dimension = dimension; self.centroids = centroids
    }

    static let magic = Array("PRNEPOCH".utf8)

    /// The epoch as bytes: k × d × 4 bytes of centroids plus a small header.
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.bytes.append(contentsOf: Self.magic)
        w.u32(ShardSnapshot.version)
        w.u32(epoch)
        w.string(leader)
        w.u32(UInt32(clusters))
        w.u32(UInt32(dimension))
        w.bytes.reserveCapacity(w.bytes.count + centroids.count * 4 + 4)
        for x in centroids { w.f32(x) }
        w.u32(CRC32.checksum(w.bytes))
        return w.bytes
    }

    /// Decodes `encoded()`.
    /// - Throws: [`ClusterCodingError`] naming the byte offset and the reason.
    public init(decoding bytes: [UInt8], what: String) throws(ClusterCodingError) {
        var r = try ClusterReader.open(bytes, magic: Self.magic, what: what)
        do {
            epoch = try r.reader.u32()
            leader = try r.reader.string()
            clusters = Int(try r.reader.u32())
            dimension = Int(try r.reader.u32())
            guard clusters >= 1, clusters <= 1 << 20, dimension >= 1, dimension <= StreamingPruner.maxCheckpointDimension else {
                throw r.malformed("\(clusters) × \(dimension) centroids")
            }
            guard (r.reader.end - r.reader.offset) / 4 >= clusters * dimension else {
                throw CheckpointError.truncated
            }
            centroids = try (0..<(clusters * dimension)).map { _ in try r.reader.f32() }
            guard centroids.allSatisfy(\.isFinite) else { throw r.malformed("a centroid value is not finite") }
            try r.finish()
        } catch CheckpointError.truncated {
            throw .truncated(what: what, offset: r.reader.offset)
        } catch let error as ClusterCodingError {
            throw error
        } catch {
            throw .malformed(what: what, offset: r.reader.offset, reason: "\(error)")
        }
    }
}

/// Magic, version and CRC checks shared by both record kinds, with offsets for errors.
struct ClusterReader {
    var reader: ByteReader
    let what: String

    static func open(_ bytes: [UInt8], magic: [UInt8], what: String) throws(ClusterCodingError) -> ClusterReader {
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else { throw .badMagic(what: what) }
        guard bytes.count >= magic.count + 8 else { throw .truncated(what: what, offset: bytes.count) }
        let stored = bytes[(bytes.count - 4)...].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let actual = CRC32.checksum(bytes[0..<(bytes.count - 4)])
        var reader = ByteReader(bytes, from: magic.count, to: bytes.count - 4)
        let version = (try? reader.u32()) ?? 0
        guard version == ShardSnapshot.version else { throw .unsupportedVersion(what: what, version: version) }
        guard stored == actual else { throw .checksumMismatch(what: what, expected: stored, actual: actual) }
        return ClusterReader(reader: reader, what: what)
    }

    func malformed(_ reason: String) -> ClusterCodingError { .malformed(what: what, offset: reader.offset, reason: reason) }

    mutating func int() throws -> Int {
        let v = try reader.varint()
        guard v <= UInt64(Int.max) else { throw malformed("count \(v) out of range") }
        return Int(v)
    }

    func finish() throws(ClusterCodingError) {
        guard reader.offset == reader.end else { throw malformed("\(reader.end - reader.offset) bytes after the last field") }
    }
}

extension ByteWriter {
    /// LEB128: 7 bits a byte, low bits first.
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    mutating func varint(_ value: Int) { varint(UInt64(max(value, 0))) }
}

extension ByteReader {
    /// Reads a LEB128 varint of at most 10 bytes.
    mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            let b = try u8()
            guard shift < 64 else { throw CheckpointError.malformed("varint longer than 10 bytes") }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }
}
