// What the decision log already holds of a Redis stream's entries: at start, the
// entries this consumer left pending (delivered, not acknowledged) are looked up
// in the log, so the lines a killed run wrote for them are not written twice.
#if canImport(Glibc)
import Glibc
#endif

enum RedisEntryLog {
    /// Per entry id of `ids`: the `seq`s that have a line whose `src` is `prefix/ID`.
    /// Reads the whole log once (at start, only when the group has entries pending
    /// for this consumer); an unreadable or absent log holds nothing.
    static func loggedSeqs(path: String, prefix: String, ids: Set<String>) -> [String: Set<UInt64>] {
        guard !ids.isEmpty, path != "-" else { return [:] }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [:] }
        defer { close(fd) }
        let marker = Array("\"src\":\"\(prefix)/".utf8)
        var found: [String: Set<UInt64>] = [:]
        var carry: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            carry.append(contentsOf: buffer[0..<count])
            var lineStart = carry.startIndex
            while let newline = carry[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
                if let (id, seq) = entry(in: carry[lineStart..<newline], marker: marker), ids.contains(id) {
                    found[id, default: []].insert(seq)
                }
                lineStart = newline + 1
            }
            carry.removeSubrange(..<lineStart)
        }
        return found
    }

    /// The lines of `blob` (one entry's committed lines) whose `seq` is not in `seqs`.
    static func lines(_ blob: [UInt8], without seqs: Set<UInt64>) -> [UInt8] {
        guard !seqs.isEmpty else { return blob }
        let marker = Array("\"src\":\"".utf8)
        var kept: [UInt8] = []
        var start = blob.startIndex
        while let newline = blob[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = blob[start..<newline]
            if let (_, seq) = entry(in: line, marker: marker), seqs.contains(seq) {} else { kept += blob[start...newline] }
            start = newline + 1
        }
        return kept
    }

    /// `(entry id, seq)` of one line whose src starts with `marker`, else nil.
    private static func entry(in line: ArraySlice<UInt8>, marker: [UInt8]) -> (String, UInt64)? {
        guard line.count > marker.count, let start = range(of: marker, in: line) else { return nil }
        let idStart = start + marker.count
        guard let quote = line[idStart...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        let id = String(decoding: line[idStart..<quote], as: UTF8.self)
        let seqField = Array("\",\"seq\":".utf8)
        guard line[quote...].starts(with: seqField) else { return nil }
        var seq: UInt64 = 0
        var index = quote + seqField.count
        var digits = 0
        while index < line.endIndex, line[index] >= UInt8(ascii: "0"), line[index] <= UInt8(ascii: "9") {
            seq = seq &* 10 &+ UInt64(line[index] - UInt8(ascii: "0"))
            index += 1
            digits += 1
        }
        return digits > 0 ? (id, seq) : nil
    }

    private static func range(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard let first = needle.first else { return nil }
        var index = haystack.startIndex
        while let candidate = haystack[index...].firstIndex(of: first) {
            if haystack[candidate...].starts(with: needle) { return candidate }
            index = candidate + 1
        }
        return nil
    }
}
