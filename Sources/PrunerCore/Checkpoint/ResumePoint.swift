// The daemon's checkpoint: the engine's checkpoint plus what makes a restart
// exactly-once for file inputs — how far each file input had been read into
// the engine, which file that was, and how long the decision log was, all
// taken at one moment at which the three agree.
//
// Layout (little-endian):
//   "PRNRESM\0"  8 bytes magic
//   version      u32 (1; 2 when an id filter follows the engine)
//   length       u64, bytes of the resume section
//   section      log mark, source table, file inputs
//   crc32        u32 over every byte before it
//   engine       u64 length, then the engine's own checkpoint (its own magic,
//                version and CRC; length 0 when no record had reached the engine)
//   id filter    version 2 only: u64 length, then the `--unique-ids` filter's own
//                section (`IDFilter.checkpoint()`: its magic, version and CRC)
//
// A file holding a bare engine checkpoint ("PRNCKPT\0", written before resume
// points existed) is still restored, without a resume section.

/// Where a restart picks up: the engine's state and, consistent with it, every
/// file input's position and the decision log's length.
public struct ResumePoint: Sendable, Equatable {
    /// The decision log at the checkpoint: which file, and how many bytes of it
    /// were on disk (fsynced) holding exactly the decisions made so far.
    public struct LogMark: Sendable, Equatable {
        public var path: String
        public var device: UInt64
        public var inode: UInt64
        /// Bytes of whole lines; a restart truncates the log to this length.
        public var length: UInt64

        public init(path: String, device: UInt64, inode: UInt64, length: UInt64) {
            self.path = path; self.device = device; self.inode = inode; self.length = length
        }
    }

    /// One entry of the daemon's source table (held records name their input by index).
    public struct Source: Sendable, Equatable {
        public var name: String
        public var replies: Bool

        public init(name: String, replies: Bool) {
            self.name = name; self.replies = replies
        }
    }

    /// A file input: its identity, so a changed file is not resumed blindly, and
    /// its position as a record count (see docs/reliability.md, "Crash-safe resume").
    public struct FileInput: Sendable, Equatable {
        /// The input's `src` name (`file:/abs/path`, or `stdin` redirected from a file).
        public var name: String
        public var device: UInt64
        public var inode: UInt64
        /// The file's size when the checkpoint was taken.
        public var size: UInt64
        /// FNV-1a of the first 64 KiB and of the 64 KiB ending at `size`.
        public var fingerprint: UInt64
        /// Records of this input that reached the engine: decided (their lines are in
        /// the log's first `LogMark.length` bytes) or held in the engine's state.
        public var records: UInt64

        public init(name: String, device: UInt64, inode: UInt64, size: UInt64, fingerprint: UInt64, records: UInt64) {
            self.name = name; self.device = device; self.inode = inode; self.size = size
            self.fingerprint = fingerprint; self.records = records
        }
    }

    /// nil when decisions went to stdout (which cannot be truncated).
    public var log: LogMark?
    public var sources: [Source]
    public var files: [FileInput]
    /// The engine's checkpoint (`StreamingPruner.checkpoint()`); empty before the engine existed.
    public var engine: [UInt8]
    /// `--unique-ids`: the filter of ids handed to the engine (`IDFilter.checkpoint()`),
    /// consistent with the file positions; nil when the run did not check ids.
    public var idFilter: [UInt8]?

    public init(log: LogMark?, sources: [Source], files: [FileInput], engine: [UInt8], idFilter: [UInt8]? = nil) {
        self.log = log; self.sources = sources; self.files = files; self.engine = engine; self.idFilter = idFilter
    }

    static let magic: [UInt8] = Array("PRNRESM".utf8) + [0]
    /// The newest version written (and read); a resume point without an id filter is
    /// still written as version 1, which every earlier build reads.
    public static let version: UInt32 = 2

    /// Whether `bytes` start like a resume point (else they may be a bare engine checkpoint).
    public static func isResumePoint(_ bytes: [UInt8]) -> Bool {
        bytes.count >= magic.count && Array(bytes[0..<magic.count]) == magic
    }

    /// The bytes of the checkpoint file.
    public func encoded() -> [UInt8] {
        let parts = encodedParts()
        return parts.count == 1 ? parts[0] : Array(parts.joined())
    }

    /// The bytes of the checkpoint file in parts to be written one after the other:
    /// the id filter (tens of MB) is its own part, so it is not copied once more.
    public func encodedParts() -> [[UInt8]] {
        var w = ByteWriter()
        w.bool(log != nil)
        w.string(log?.path ?? ""); w.u64(log?.device ?? 0); w.u64(log?.inode ?? 0); w.u64(log?.length ?? 0)
        w.int(sources.count)
        for source in sources { w.string(source.name); w.bool(source.replies) }
        w.int(files.count)
        for file in files {
            w.string(file.name); w.u64(file.device); w.u64(file.inode); w.u64(file.size)
            w.u64(file.fingerprint); w.u64(file.records)
        }
        var out = ByteWriter()
        out.bytes = Self.magic
        out.bytes.reserveCapacity(32 + w.bytes.count + engine.count)
        out.u32(idFilter == nil ? 1 : 2)
        out.u64(UInt64(w.bytes.count))
        out.bytes.append(contentsOf: w.bytes)
        out.u32(CRC32.checksum(out.bytes))
        out.u64(UInt64(engine.count))
        out.bytes.append(contentsOf: engine)
        guard let idFilter else { return [out.bytes] }
        out.u64(UInt64(idFilter.count))
        return [out.bytes, idFilter]
    }

    /// Reads `encoded()` bytes. Never half-loads: a resume point or a `CheckpointError`.
    public init(decoding bytes: [UInt8]) throws(CheckpointError) {
        guard Self.isResumePoint(bytes) else { throw .badMagic }
        do {
            var header = ByteReader(bytes, from: Self.magic.count)
            let version = try header.u32()
            guard version == 1 || version == 2 else { throw CheckpointError.unsupportedVersion(version) }
            let length = try header.u64()
            let start = header.offset
            guard length <= UInt64(bytes.count - start) else { throw CheckpointError.truncated }
            let end = start + Int(length)
            var trailer = ByteReader(bytes, from: end)
            let stored = try trailer.u32()
            let actual = CRC32.checksum(bytes[0..<end])
            guard stored == actual else { throw CheckpointError.checksumMismatch(expected: stored, actual: actual) }
            let engineLength = try trailer.u64()
            let afterEngine = UInt64(bytes.count - trailer.offset)
            if version == 1 {
                guard engineLength == afterEngine else {
                    throw engineLength > afterEngine ? CheckpointError.truncated
                        : .malformed("\(afterEngine - engineLength) bytes after the engine's checkpoint")
                }
                engine = Array(bytes[trailer.offset...])
                idFilter = nil
            } else {
                guard engineLength <= afterEngine else { throw CheckpointError.truncated }
                let engineEnd = trailer.offset + Int(engineLength)
                engine = Array(bytes[trailer.offset..<engineEnd])
                var filterTrailer = ByteReader(bytes, from: engineEnd)
                let filterLength = try filterTrailer.u64()
                let afterFilter = UInt64(bytes.count - filterTrailer.offset)
                guard filterLength == afterFilter else {
                    throw filterLength > afterFilter ? CheckpointError.truncated
                        : .malformed("\(afterFilter - filterLength) bytes after the id filter")
                }
                idFilter = Array(bytes[filterTrailer.offset...])
            }

            var r = ByteReader(bytes, from: start, to: end)
            let hasLog = try r.bool()
            let mark = LogMark(path: try r.string(), device: try r.u64(), inode: try r.u64(), length: try r.u64())
            log = hasLog ? mark : nil
            let sourceCount = try r.count(elementSize: 9)
            sources = try (0..<sourceCount).map { _ in Source(name: try r.string(), replies: try r.bool()) }
            let fileCount = try r.count(elementSize: 48)
            files = try (0..<fileCount).map { _ in
                FileInput(name: try r.string(), device: try r.u64(), inode: try r.u64(), size: try r.u64(),
                          fingerprint: try r.u64(), records: try r.u64())
            }
            guard r.offset == end else { throw CheckpointError.malformed("\(end - r.offset) bytes left in the resume section") }
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw .malformed("\(error)")
        }
    }
}
