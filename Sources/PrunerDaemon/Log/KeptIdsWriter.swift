// `--kept-ids FILE`: the ids of kept records, collected while the daemon runs in
// a spool file beside FILE (appended, so memory does not grow with the kept set),
// and published as FILE — text, or DataComp's `.npy` — atomically (temp file,
// fsync, rename) at the end of a run, on SIGHUP and at stop.
import PrunerIO

/// Collects kept ids and writes the kept-ids file.
public final class KeptIdsWriter {
    public let path: String
    private let spoolPath: String
    private let spool: Int32

    /// Starts an empty spool (a run's kept set starts empty).
    public init(path: String) throws {
        self.path = path
        spoolPath = path + ".spool"
        spool = try FileSystem.openForWriting(spoolPath)
    }

    deinit { FileSystem.close(spool) }

    /// Starts the spool with the kept ids of the decision log at `logPath`, as
    /// `prunerd kept` reads them. Called on a restart from a resume point: the log
    /// (cut back to the checkpoint) holds the run's decisions before this process,
    /// so that the published file covers the whole run, not only what this
    /// process decided. Reads the log once, 1 MiB at a time.
    /// - Returns: the number of kept ids taken from it.
    public func seed(fromLog logPath: String) throws -> Int {
        let fd: Int32
        do { fd = try FileSystem.openForReading(logPath) } catch { return 0 }  // no log yet: nothing kept
        defer { FileSystem.close(fd) }
        var offset: UInt64 = 0
        var pending: [UInt8] = []
        var count = 0
        while true {
            let chunk = try FileSystem.readBytes(fd, count: 1 << 20, at: offset, path: logPath)
            if chunk.isEmpty { break }
            offset += UInt64(chunk.count)
            pending.append(contentsOf: chunk)
            var ids: [UInt8] = []
            var start = 0
            while let end = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                if let id = KeptIdsFile.keptID(inLogLine: pending[start..<end]) {
                    ids.append(contentsOf: id)
                    ids.append(UInt8(ascii: "\n"))
                    count += 1
                }
                start = end + 1
            }
            pending.removeFirst(start)
            try append(ids)
        }
        return count
    }

    /// Appends kept ids (each followed by a newline).
    public func append(_ lines: [UInt8]) throws {
        guard !lines.isEmpty else { return }
        try FileSystem.write(lines, to: spool, name: spoolPath)
    }

    /// Writes the kept set so far as `path`, atomically.
    public func publish() throws {
        let lines = try FileSystem.readFile(atPath: spoolPath)
        let bytes = KeptIdsFile.wantsNPY(path) ? try KeptIdsFile.npy(fromLines: lines) : lines
        try FileSystem.writeFileAtomically(bytes, toPath: path)
    }

    /// After the last publish: the spool is no longer needed.
    public func removeSpool() {
        FileSystem.removeFile(atPath: spoolPath)
    }
}
