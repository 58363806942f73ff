// `--unique-ids`: a Bloom filter over the ids of records already handed to
// the engine, so that a retried record is answered `duplicate_id` instead of
// being kept a second time, in memory that does not grow with the stream.
//
// A Bloom filter never forgets an id it holds (no false negatives) and
// sometimes claims one it never saw (a false positive). For prunerd a false
// positive is a genuinely new record dropped as `duplicate_id`; the rate is
// chosen at sizing time (docs/reliability.md, "Duplicate ids").
//
// Hashing is fixed and unseeded (not Swift's per-process `Hasher`): the filter
// is checkpointed and must answer alike after a restart.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The set of ids seen, with a bounded false-positive rate.
public struct IDFilter: Sendable, Equatable {
    /// Records the filter was sized for (`--expected-records`).
    public let expectedRecords: Int
    /// The false-positive rate designed for at `expectedRecords` ids.
    public let designRate: Double
    /// Bits of the filter (a multiple of 64).
    public let bitCount: Int
    /// Bits set per id.
    public let hashCount: Int
    /// Insertions so far: the ids held, when each is inserted once (as the daemon
    /// does: it inserts only ids the filter did not claim).
    public private(set) var insertedCount: Int = 0
    private var words: [UInt64]

    /// The default of `--expected-records`.
    public static let defaultExpectedRecords = 10_000_000
    /// The false-positive rate every filter is sized for: 1 in 10,000 new records
    /// is dropped as `duplicate_id` once `expectedRecords` ids are held.
    public static let defaultRate = 1e-4

    /// A filter for `expectedRecords` ids at `rate` false positives: m = −n·ln p / (ln 2)² bits,
    /// k = (m/n)·ln 2 hashes (19.2 bits and 13 hashes per id at p = 1e-4).
    public init(expectedRecords: Int, rate: Double = IDFilter.defaultRate) {
        precondition(expectedRecords > 0 && rate > 0 && rate < 1)
        let bitsPerRecord = -log(rate) / (log(2.0) * log(2.0))
        let bits = max(64, Int((Double(expectedRecords) * bitsPerRecord).rounded(.up)))
        let wordCount = (bits + 63) / 64
        self.expectedRecords = expectedRecords
        self.designRate = rate
        self.bitCount = wordCount * 64
        self.hashCount = max(1, Int((bitsPerRecord * log(2.0)).rounded()))
        self.words = [UInt64](repeating: 0, count: wordCount)
    }

    /// Bytes the filter's bits take.
    public var byteCount: Int { words.count * 8 }

    /// The false-positive rate expected with the ids now held: (1 − e^(−k·n/m))^k.
    public var expectedRate: Double {
        pow(1 - exp(-Double(hashCount) * Double(insertedCount) / Double(bitCount)), Double(hashCount))
    }

    /// Whether `id` may have been inserted: always true for an inserted id, and
    /// true for a new one with probability about `expectedRate`.
    public func contains(_ id: String) -> Bool {
        let (h1, h2) = Self.hashes(id)
        return words.withUnsafeBufferPointer { bits in
            var found = true
            var h = h1
            let m = UInt64(bitCount)
            for _ in 0..<hashCount {
                let bit = h % m
                found = found && bits[Int(bit >> 6)] & (1 << (bit & 63)) != 0
                h &+= h2
            }
            return found
        }
    }

    /// Adds `id`; returns whether some bit was not yet set (false for an id held
    /// already, and for a new one the filter would have claimed).
    @discardableResult
    public mutating func insert(_ id: String) -> Bool {
        let (h1, h2) = Self.hashes(id)
        let m = UInt64(bitCount)
        let k = hashCount
        let added = words.withUnsafeMutableBufferPointer { bits -> Bool in
            var added = false
            var h = h1
            for _ in 0..<k {
                let bit = h % m
                let mask: UInt64 = 1 << (bit & 63)
                let index = Int(bit >> 6)
                if bits[index] & mask == 0 {
                    bits[index] |= mask
                    added = true
                }
                h &+= h2
            }
            return added
        }
        insertedCount += 1
        return added
    }

    /// Two independent 64-bit hashes of the id's UTF-8 bytes (Kirsch–Mitzenmacher:
    /// bit i is h1 + i·h2, as good as k independent hashes for a Bloom filter).
    /// FNV-1a over the bytes, then two different 64-bit finalisers (MurmurHash3's
    /// fmix64 and SplitMix64's), so that nearby ids ("shard-1#41", "shard-1#42")
    /// spread over the whole filter.
    static func hashes(_ id: String) -> (UInt64, UInt64) {
        var fnv: UInt64 = 0xcbf2_9ce4_8422_2325
        var length: UInt64 = 0
        var utf8 = id.utf8
        let done: Void? = utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes { fnv = (fnv ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
            length = UInt64(bytes.count)
        }
        if done == nil {
            utf8 = id.utf8
            for byte in utf8 { fnv = (fnv ^ UInt64(byte)) &* 0x0000_0100_0000_01b3; length += 1 }
        }
        var a = fnv ^ length
        a ^= a >> 33; a &*= 0xff51_afd7_ed55_8ccd; a ^= a >> 33; a &*= 0xc4ce_b9fe_1a85_ec53; a ^= a >> 33
        var b = fnv &+ 0x9e37_79b9_7f4a_7c15
        b = (b ^ (b >> 30)) &* 0xbf58_476d_1ce4_e5b9; b = (b ^ (b >> 27)) &* 0x94d0_49bb_1331_11eb; b ^= b >> 31
        return (a, b)
    }
}

// MARK: Checkpoint

extension IDFilter {
    static let magic: [UInt8] = Array("PRNIDF1".utf8) + [0]
    /// The version of the filter's checkpoint section.
    public static let checkpointVersion: UInt32 = 1

    /// The filter as a checkpoint section: magic, version, geometry, the bits, CRC-32.
    public func checkpoint() -> [UInt8] {
        var w = ByteWriter()
        w.bytes = Self.magic
        w.bytes.reserveCapacity(64 + byteCount)   // tens of MB: one allocation, no doubling
        w.u32(Self.checkpointVersion)
        w.int(expectedRecords); w.f64(designRate); w.int(bitCount); w.int(hashCount); w.int(insertedCount)
        w.int(words.count)
        words.withUnsafeBytes { raw in
            // The words are stored little-endian, as every value of the checkpoint.
            if UInt64(1).littleEndian == 1 {
                w.bytes.append(contentsOf: raw)
            } else {
                for word in words { w.u64(word) }
            }
        }
        w.u32(CRC32.checksum(w.bytes))
        return w.bytes
    }

    /// Restores `checkpoint()` bytes. Never half-loads: a filter or a `CheckpointError`.
    public init(checkpoint bytes: [UInt8]) throws(CheckpointError) {
        guard bytes.count >= Self.magic.count + 8, Array(bytes[0..<Self.magic.count]) == Self.magic else { throw .badMagic }
        let end = bytes.count - 4
        do {
            var trailer = ByteReader(bytes, from: end)
            let stored = try trailer.u32()
            let actual = CRC32.checksum(bytes[0..<end])
            guard stored == actual else { throw CheckpointError.checksumMismatch(expected: stored, actual: actual) }
            var r = ByteReader(bytes, from: Self.magic.count, to: end)
            let version = try r.u32()
            guard version == Self.checkpointVersion else { throw CheckpointError.unsupportedVersion(version) }
            let expected = try r.int(), rate = try r.f64(), bits = try r.int(), hashes = try r.int(), inserted = try r.int()
            let wordCount = try r.count(elementSize: 8)
            guard expected > 0, rate > 0, rate < 1, bits == wordCount * 64, bits > 0, (1...64).contains(hashes),
                  inserted >= 0, r.offset + wordCount * 8 == end else {
                throw CheckpointError.malformed("id filter geometry (\(bits) bits, \(hashes) hashes, \(wordCount) words)")
            }
            let start = r.offset
            let words = bytes.withUnsafeBytes { raw in
                (0..<wordCount).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: start + $0 * 8, as: UInt64.self)) }
            }
            self.init(expectedRecords: expected, designRate: rate, bitCount: bits, hashCount: hashes,
                      insertedCount: inserted, words: words)
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw .malformed("\(error)")
        }
    }

    private init(expectedRecords: Int, designRate: Double, bitCount: Int, hashCount: Int, insertedCount: Int, words: [UInt64]) {
        self.expectedRecords = expectedRecords; self.designRate = designRate; self.bitCount = bitCount
        self.hashCount = hashCount; self.insertedCount = insertedCount; self.words = words
    }
}
