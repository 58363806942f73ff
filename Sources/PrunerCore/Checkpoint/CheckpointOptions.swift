// Reading a checkpoint's own options, for tools that inspect a checkpoint
// without a configuration of their own (`prunerd report`).

extension StreamingPruner {
    /// The options a checkpoint was written with. Restoring with these never
    /// fails as incompatible; the bytes are fully checked by `init(checkpoint:options:)`.
    public static func savedOptions(inCheckpoint bytes: [UInt8]) throws -> PruningOptions {
        let m = checkpointMagic
        guard bytes.count >= m.count, Array(bytes[0..<m.count]) == m else { throw CheckpointError.badMagic }
        var header = ByteReader(bytes, from: m.count)
        let version = try header.u32()
        guard (oldestReadableVersion...checkpointVersion).contains(version) else {
            throw CheckpointError.unsupportedVersion(version)
        }
        let length = try header.u64()
        let start = header.offset
        guard length <= UInt64(bytes.count - start) else { throw CheckpointError.truncated }
        var reader = ByteReader(bytes, from: start, to: start + Int(length))
        return try readOptions(&reader)
    }
}
