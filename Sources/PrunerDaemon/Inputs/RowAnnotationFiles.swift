// Ids and scores of matrix rows, read from files beside the matrix as the rows
// stream: ids from text files (one per line), scores from `.npy` vectors. Both
// are read in fixed chunks, in step with the rows, so memory stays bounded.
// The reads are synchronous: these files are small next to the matrix
// (an id is ~40 bytes where a row is 1–3 KB), so each read is rare and short.
import PrunerIO

/// The ids and scores of a matrix stream's rows.
final class RowAnnotationFiles: RowAnnotations {
    private var ids: LineSource?
    private var scores: ScoreSource?

    init(stream: MatrixStream) {
        ids = stream.idFiles.isEmpty ? nil : LineSource(files: stream.idFiles)
        scores = stream.scoreFiles.isEmpty ? nil : ScoreSource(files: stream.scoreFiles)
    }

    func annotation(forRow row: UInt64) throws(StreamError) -> (id: String, score: Float?) {
        let id = try ids?.next(row: row) ?? String(row)
        return (id, try scores?.next(row: row))
    }

    func finish(rows: UInt64) throws(StreamError) {
        try ids?.finish(rows: rows)
        try scores?.finish(rows: rows)
    }
}

/// Lines of text files read in order, across files.
private final class LineSource {
    private let files: [RowFile]
    private var fileIndex = -1
    private var fd: Int32 = -1
    private var offset: Int64 = 0
    private var buffer: [UInt8] = []
    private var position = 0
    private var isEndOfFile = true
    /// Lines taken from the current file.
    private var linesInFile = 0

    init(files: [RowFile]) {
        self.files = files
    }

    deinit { if fd >= 0 { FileSystem.close(fd) } }

    private var path: String { files[max(0, fileIndex)].path }

    func next(row: UInt64) throws(StreamError) -> String {
        while true {
            // A per-shard file switches exactly at its shard's last row, and must end there.
            if fileIndex >= 0, let rows = files[fileIndex].rows, linesInFile == rows {
                let extra = remainingLines()
                if extra > 0 { throw mismatch(files[fileIndex], lines: rows + extra) }
                guard fileIndex + 1 < files.count else { throw ranOut(row: row) }
                try open(fileIndex + 1)
                continue
            }
            if let line = try nextLine() { return line }
            if fileIndex >= 0, files[fileIndex].rows != nil { throw mismatch(files[fileIndex], lines: linesInFile) }
            guard fileIndex + 1 < files.count else { throw ranOut(row: row) }
            try open(fileIndex + 1)
        }
    }

    func finish(rows: UInt64) throws(StreamError) {
        guard fileIndex >= 0 else { return }
        let taken = linesInFile
        let extra = remainingLines()
        guard extra > 0 else { return }
        if files[fileIndex].rows != nil { throw mismatch(files[fileIndex], lines: taken + extra) }
        throw StreamError(offset: 0, layer: .record,
                          reason: "ids file \(path) has \(taken + extra) lines for \(rows) rows: one id per row, in row order")
    }

    private func ranOut(row: UInt64) -> StreamError {
        StreamError(offset: 0, layer: .record,
                    reason: "ids file \(path) has \(linesInFile) lines, but the matrix has more rows "
                        + "(row \(row) has no id): one id per row, in row order")
    }

    private func mismatch(_ file: RowFile, lines: Int) -> StreamError {
        StreamError(offset: 0, layer: .record,
                    reason: "ids file \(file.path) has \(lines) lines, its shard \(file.rows ?? 0) rows: one id per row, in row order")
    }

    /// Lines left unread in the current file (read to count them: only at a shard's or the stream's end).
    private func remainingLines() -> Int {
        var count = 0
        while (try? nextLine()) != nil { count += 1 }
        return count
    }

    private func open(_ index: Int) throws(StreamError) {
        if fd >= 0 { FileSystem.close(fd) }
        fileIndex = index
        linesInFile = 0
        offset = 0
        buffer = []
        position = 0
        do {
            fd = try FileSystem.openForReading(files[index].path)
        } catch {
            fd = -1
            throw StreamError(offset: 0, layer: .record, reason: "ids file: \(error)")
        }
        isEndOfFile = false
    }

    /// The next line of the current file (without `\n` or `\r\n`), nil at its end.
    private func nextLine() throws(StreamError) -> String? {
        guard fileIndex >= 0 else { return nil }
        while true {
            if let newline = buffer[position...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > position, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = String(decoding: buffer[position..<end], as: UTF8.self)
                position = newline + 1
                linesInFile += 1
                return line
            }
            if isEndOfFile {
                guard position < buffer.count else { return nil }
                let line = String(decoding: buffer[position...], as: UTF8.self)
                position = buffer.count
                linesInFile += 1
                return line
            }
            buffer.removeSubrange(0..<position)
            position = 0
            let start = buffer.count
            buffer += [UInt8](repeating: 0, count: 64 * 1024)
            let count: Int
            do {
                count = try buffer.withUnsafeMutableBytes { raw in
                    try FileSystem.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[start...]), at: offset, path: path)
                }
            } catch {
                throw StreamError(offset: UInt64(offset), layer: .record, reason: "ids file: \(error)")
            }
            buffer.removeLast(buffer.count - start - count)
            offset += Int64(count)
            if count == 0 { isEndOfFile = true }
        }
    }
}

/// Values of `.npy` score vectors (n or n × 1, float16/32/64), read in order, across files.
private final class ScoreSource {
    private let files: [RowFile]
    private var fileIndex = -1
    private var reader: ShardReader?
    private var header: NPYHeader?
    private var valuesLeft = 0
    private var pending: [UInt8] = []
    private var values: [Float] = []
    private var position = 0

    init(files: [RowFile]) {
        self.files = files
    }

    func next(row: UInt64) throws(StreamError) -> Float {
        while position == values.count {
            try refill(row: row)
        }
        defer { position += 1 }
        return values[position]
    }

    func finish(rows: UInt64) throws(StreamError) {
        let left = values.count - position + valuesLeft
        if left > 0 || fileIndex + 1 < files.count {
            throw StreamError(offset: 0, layer: .record,
                              reason: "scores file \(files[max(0, fileIndex)].path) has more values than the \(rows) rows")
        }
    }

    private func refill(row: UInt64) throws(StreamError) {
        if reader == nil || valuesLeft == 0 {
            guard fileIndex + 1 < files.count else {
                throw StreamError(offset: 0, layer: .record,
                                  reason: "scores file \(files[max(0, fileIndex)].path) has fewer values than the "
                                    + "matrix has rows (row \(row) has no score)")
            }
            fileIndex += 1
            try open(files[fileIndex])
            return
        }
        do {
            let more = try reader!.next { (chunk: UnsafeRawBufferPointer) throws(StreamError) in pending.append(contentsOf: chunk) }
            if !more && pending.count < header!.element.size {
                throw MatrixInputError("\(files[fileIndex].path) is truncated")
            }
        } catch let error as StreamError {
            throw error
        } catch {
            throw StreamError(offset: 0, layer: .record, reason: "scores file: \(error)")
        }
        let size = header!.element.size
        let count = min(pending.count / size, valuesLeft)
        values = (0..<count).map { index in
            let start = index * size
            switch header!.element {
            case .float16: return Float(Float16(bitPattern: UInt16(pending[start]) | UInt16(pending[start + 1]) << 8))
            case .float32:
                return Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(pending[start + $1]) << (8 * $1) })
            case .float64:
                return Float(Double(bitPattern: (0..<8).reduce(UInt64(0)) { $0 | UInt64(pending[start + $1]) << (8 * $1) }))
            }
        }
        pending.removeFirst(count * size)
        position = 0
        valuesLeft -= count
    }

    private func open(_ file: RowFile) throws(StreamError) {
        do {
            guard case .regularFile(let size) = FileSystem.kind(ofPath: file.path) else {
                throw MatrixInputError("\(file.path): no such file")
            }
            let parsed = try MatrixStreamResolver.readHeader(ShardReader(path: file.path, start: 0, length: size, deflated: false),
                                                             label: file.path, allowVector: true)
            guard parsed.columns == 1 else {
                throw MatrixInputError("\(file.path) is \(parsed.summary): a score file holds one value per row (shape (n,) or (n, 1))")
            }
            if let rows = file.rows, rows != parsed.rows {
                throw MatrixInputError("\(file.path) holds \(parsed.rows) scores, its shard \(rows) rows")
            }
            header = parsed
            valuesLeft = parsed.rows
            reader = try ShardReader(path: file.path, start: UInt64(parsed.dataOffset), length: UInt64(parsed.dataLength), deflated: false)
            pending = []
            values = []
            position = 0
        } catch let error as StreamError {
            throw error
        } catch {
            throw StreamError(offset: 0, layer: .record, reason: "scores file: \(error)")
        }
    }
}
