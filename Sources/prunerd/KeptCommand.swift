// `prunerd kept LOG`: the kept set of an existing decision log, as the file a
// training pipeline takes (text ids, or DataComp's sorted u8,u8 `.npy`).
import ArgumentParser
import PrunerDaemon
import PrunerIO

struct KeptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kept",
        abstract: "Write the ids of the kept records of a decision log: text, or DataComp's u8,u8 array for FILE.npy.",
        discussion: """
            Reads the log as it streams (decision lines from any number of runs; other lines are skipped). \
            With -o FILE.npy the ids must be 32-hex-digit uids (DataComp's); they are written as a sorted \
            numpy array of dtype [('f0','<u8'),('f1','<u8')], each uid split as (int(uid[:16], 16), \
            int(uid[16:32], 16)), repeats removed: the subset file of DataComp's resharder.py. Output files \
            are written atomically.
            """)

    /// Longer than any decision line: an id of the largest `--max-record-size` JSON-escaped
    /// (6 bytes a byte at worst) with the other fields.
    static let longestLine = 64 << 20

    @Argument(help: "A decision log (JSON Lines, as serve and offline write it), or - for stdin.")
    var log: String

    @Option(name: [.customShort("o"), .customLong("output")], help: "Write here (default: stdout, as text).")
    var output: String?

    func run() throws {
        // Text streams out (stdout, or a temporary file renamed at the end); only the .npy,
        // which must be sorted, holds the ids in memory (16 bytes each in the end).
        let asNPY = output.map(KeptIdsFile.wantsNPY) ?? false
        let target = output.flatMap { $0 == "-" ? nil : $0 }
        let text = asNPY ? nil : try ByteSink(path: target.map { $0 + ".tmp" }, compressed: false)
        var ids: [UInt8] = []
        var count = 0
        var failure: Error?
        var pending: [UInt8] = []
        var skipping = false
        let fd = log == "-" ? 0 : try FileSystem.openForReading(log)
        defer { if log != "-" { FileSystem.close(fd) } }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        func take(_ line: ArraySlice<UInt8>) {
            if let id = KeptIdsFile.keptID(inLogLine: line) {
                count += 1
                if let text {
                    do { try text.append(id + [UInt8(ascii: "\n")]) } catch { failure = failure ?? error }
                } else {
                    ids.append(contentsOf: id)
                    ids.append(UInt8(ascii: "\n"))
                }
            }
        }
        while true {
            let read = try FileSystem.read(fd, into: buffer, at: -1, path: log)
            if read == 0 { break }
            // What `pending` held has no newline: only the bytes just read are searched.
            var searchFrom = pending.count
            pending.append(contentsOf: buffer[0..<read])
            var start = 0
            while let end = pending[searchFrom...].firstIndex(of: UInt8(ascii: "\n")) {
                if !skipping { take(pending[start..<end]) }
                skipping = false
                start = end + 1
                searchFrom = start
            }
            pending.removeFirst(start)
            // No decision line is this long (/dev/zero, a binary file): skipped to its end without
            // holding it, so memory stays bounded (/dev/zero grew it without bound).
            if pending.count > Self.longestLine {
                pending.removeAll()
                skipping = true
            }
        }
        if !pending.isEmpty && !skipping { take(pending[...]) }
        if let failure { throw failure }
        if let text {
            try text.finish()
            if let target { try FileSystem.rename(target + ".tmp", to: target) }
        } else if let target {
            try FileSystem.writeFileAtomically(try KeptIdsFile.npy(fromLines: ids), toPath: target)
        }
        if let target { printToStandardError("kept ids: \(target) (\(count) kept records)\n") }
    }
}
