// Valid checkpoints for the fuzz-checkpoint seed corpus, made by the engine itself.

import PrunerCore

/// Checkpoints taken at the moments a restart can meet: during warm-up, after it,
/// with each optional state (near-duplicates, score filter, drift) in use.
///
/// Why in the library: the corpus replay test checks these stay restorable, and
/// the seed writer (`PRUNERD_WRITE_FUZZ_SEEDS=1 swift test --filter CheckpointSeedTests`) stores them.
public enum CheckpointSeeds {
    /// Named checkpoint inputs, each prefixed with the control byte `fixChecksum`
    /// (0: the bytes as saved; 1: libFuzzer's mutations get a recomputed CRC-32).
    public static func inputs(controls: [UInt8] = [0, 3]) -> [(name: String, bytes: [UInt8])] {
        var out: [(String, [UInt8])] = []
        for (name, bytes) in checkpoints() {
            let point = ResumePoint(
                log: .init(path: "/var/log/prunerd/decisions.jsonl", device: 2049, inode: 77, length: 4096),
                sources: [.init(name: "file:/data/a.lz4", replies: false), .init(name: "unix:/run/in.sock", replies: true)],
                files: [.init(name: "file:/data/a.lz4", device: 2049, inode: 12, size: 1 << 20, fingerprint: 0xfeed, records: 40)],
                engine: bytes)
            for control in controls {
                out.append(("\(name)-\(control)", [control] + bytes))
                out.append(("resume-\(name)-\(control)", [control] + point.encoded()))
            }
        }
        let empty = ResumePoint(log: nil, sources: [], files: [], engine: [])
        out.append(("resume-empty-0", [0] + empty.encoded()))
        // A version-2 resume point: `--unique-ids`' filter after the engine.
        var filter = IDFilter(expectedRecords: 20)
        for i in 0..<12 { filter.insert("fuzz-\(i)") }
        if let (_, engine) = checkpoints().first {
            let withFilter = ResumePoint(log: nil, sources: [], files: [], engine: engine, idFilter: filter.checkpoint())
            out.append(("resume-idfilter-0", [0] + withFilter.encoded()))
        }
        return out
    }

    static func checkpoints() -> [(String, [UInt8])] {
        let dimension = 4
        var variants: [(String, PruningOptions, Int)] = []
        let base = CheckpointFuzzing.options
        variants.append(("warming", base, 10))
        variants.append(("auto", base, 40))
        var online = base; online.update = .online
        variants.append(("online", online, 40))
        var frozen = base; frozen.update = .frozen; frozen.keep = .random
        variants.append(("frozen-random", frozen, 40))
        var dedup = base; dedup.dedupThreshold = 0.05; dedup.dedupMemory = 4; dedup.minScore = 0.1
        variants.append(("dedup-score", dedup, 40))
        var drift = base; drift.spawnAfter = 3; drift.halfLife = 10; drift.update = .online
        variants.append(("drift", drift, 50))
        return variants.compactMap { name, options, records in
            guard var engine = try? StreamingPruner(options: options, dimension: dimension) else { return nil }
            var batch = RecordBatch(dimension: dimension)
            for r in 0..<records {
                let concept = r % 3
                let vector = (0..<dimension).map { Float($0 == concept ? 4 : 0) + Float((r * 5 + $0 * 3) % 7) / 10 }
                batch.append(origin: RecordOrigin(source: 1, seq: UInt64(r)), id: "c\(r)", score: Float(r % 4) / 4, vector: vector)
                if r % 9 == 0 {
                    batch.appendRejection(origin: RecordOrigin(source: 1, seq: UInt64(r)), id: "bad\(r)", reason: .badDimension)
                }
            }
            var order = ArrivalOrder()
            order.append(batch)
            _ = order.pair(engine.submit(batch.rows))
            return (name, engine.checkpoint(order: order))
        }
    }
}
