// Cutting a decision log back to a checkpoint's length without losing what a
// restart cannot decide again: lines after the mark from inputs that are read
// again (file inputs on the command line: they resume at the checkpoint's
// position) go, with a torn last line; lines from connections and pipes, whose
// records nobody sends again, stay.
import CLibUV
import PrunerIO
#if canImport(Glibc)
import Glibc
#endif

enum LogTail {
    /// What the compaction did.
    struct Outcome {
        var removedLines = 0
        var keptLines = 0
        var tornBytes = 0
        var newLength: UInt64 = 0
        /// The `seq` of each kept line, by source name (of `heldSources`): records the
        /// checkpoint's engine may still hold, whose lines must not be written twice.
        var keptSeqs: [String: Set<UInt64>] = [:]
        /// The highest connection number (`src` ending in `#N`) among the kept lines.
        var highestConnection = 0
    }

    /// Rewrites the log after `mark` in place (reading 1 MiB at a time, writing behind the
    /// read position), dropping the lines whose `src` is one of `rereadSources` and an
    /// unterminated last line, then truncates and fsyncs.
    static func cut(_ path: String, after mark: UInt64, rereadSources: Set<String>,
                    heldSources: [String]) throws(UVError) -> Outcome {
        var request = uv_fs_t()
        let fd = uv_fs_open(nil, &request, path, O_RDWR | O_CLOEXEC, 0, nil)
        uv_fs_req_cleanup(&request)
        try uvCheck(fd, "open \(path)")
        defer { FileSystem.closeFile(fd) }
        let prefixes = rereadSources.map { Array(#","src":""#.utf8) + DecisionLineFormatter.jsonEscaped($0) + Array(#"","seq":"#.utf8) }
        var outcome = Outcome()
        let held = heldSources.map { (name: $0, prefix: Array(#","src":""#.utf8) + DecisionLineFormatter.jsonEscaped($0) + Array(#"","seq":"#.utf8)) }
        var readAt = mark, writeAt = mark
        var pending: [UInt8] = []     // a line begun in the previous chunk
        while true {
            let chunk = try FileSystem.readBytes(fd, count: 1 << 20, at: readAt, path: path)
            if chunk.isEmpty { break }
            readAt += UInt64(chunk.count)
            pending.append(contentsOf: chunk)
            var kept: [UInt8] = []
            var start = 0
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[start...newline]
                if prefixes.contains(where: { contains(line, $0) }) {
                    outcome.removedLines += 1
                } else {
                    outcome.keptLines += 1
                    kept.append(contentsOf: line)
                    outcome.highestConnection = max(outcome.highestConnection, connectionNumber(in: line))
                    for source in held {
                        if let seq = seq(in: line, after: source.prefix) {
                            outcome.keptSeqs[source.name, default: []].insert(seq)
                            break
                        }
                    }
                }
                start = newline + 1
            }
            pending.removeFirst(start)
            if !kept.isEmpty {
                try write(fd, kept, at: writeAt, name: path)
                writeAt += UInt64(kept.count)
            }
        }
        outcome.tornBytes = pending.count
        outcome.newLength = writeAt
        var truncation = uv_fs_t()
        let status = uv_fs_ftruncate(nil, &truncation, fd, Int64(writeAt), nil)
        uv_fs_req_cleanup(&truncation)
        try uvCheck(status, "ftruncate \(path)")
        _ = try FileSystem.syncAndStat(fd, name: path)
        return outcome
    }

    /// N of a `src` ending in `#N` (a connection), else 0.
    private static func connectionNumber(in line: ArraySlice<UInt8>) -> Int {
        guard let end = find(line, Array(#"","seq":"#.utf8)) else { return 0 }
        var index = end - 1
        var number = 0, scale = 1
        while index > line.startIndex, line[index] >= UInt8(ascii: "0"), line[index] <= UInt8(ascii: "9"), scale < 1_000_000_000 {
            number += Int(line[index] - UInt8(ascii: "0")) * scale
            scale *= 10
            index -= 1
        }
        return scale > 1 && line[index] == UInt8(ascii: "#") ? number : 0
    }

    /// The number right after `prefix` (`…"src":"NAME","seq":`), when the line has it.
    private static func seq(in line: ArraySlice<UInt8>, after prefix: [UInt8]) -> UInt64? {
        guard let at = find(line, prefix) else { return nil }
        var value: UInt64 = 0
        var index = at + prefix.count
        var digits = 0
        while index < line.endIndex, line[index] >= UInt8(ascii: "0"), line[index] <= UInt8(ascii: "9") {
            value = value &* 10 &+ UInt64(line[index] - UInt8(ascii: "0"))
            index += 1
            digits += 1
        }
        return digits > 0 ? value : nil
    }

    /// Whether `line` holds `needle` (the `src` field comes right after `ts`, near the start).
    private static func contains(_ line: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        find(line, needle) != nil
    }

    private static func find(_ line: ArraySlice<UInt8>, _ needle: [UInt8]) -> Int? {
        guard line.count >= needle.count else { return nil }
        let limit = min(line.endIndex - needle.count, line.startIndex + 64)
        var index = line.startIndex
        while index <= limit {
            if line[index] == needle[0] && line[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    private static func write(_ fd: Int32, _ bytes: [UInt8], at offset: UInt64, name: String) throws(UVError) {
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { raw -> Int in
                var slice = uv_buf_init(UnsafeMutablePointer(mutating: raw.baseAddress!.advanced(by: done)
                    .assumingMemoryBound(to: CChar.self)), UInt32(raw.count - done))
                var request = uv_fs_t()
                defer { uv_fs_req_cleanup(&request) }
                return Int(uv_fs_write(nil, &request, fd, &slice, 1, Int64(offset) + Int64(done), nil))
            }
            try uvCheck(Int32(clamping: count), "write \(name)")
            done += count
        }
    }
}
