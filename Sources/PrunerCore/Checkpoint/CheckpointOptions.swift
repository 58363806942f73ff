// Reading a checkpoint's own options, for tools that inspect a checkpoint
// without a configuration of their own (`prunerd report`).

extension StreamingPruner {
    /// The options a checkpoint was written with. Restoring with these never
    /// fails as incompatible; the bytes are fully checked by `init(checkpoint:options:)`.
    public static func savedOptions(inCheckpoint bytes: [UInt8]) throws -> PruningOptions {
        let (version, payload) = try self.payload(of: bytes)
        if version >= 5 {
            var r = try sections(bytes, payload, version: version)[.options]!
            return try EntryCoding.readOptions(&r)
        }
        var r = ByteReader(bytes, from: payload.lowerBound, to: payload.upperBound)
        return try EntryCoding.readOptions(&r)
    }
}
