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
