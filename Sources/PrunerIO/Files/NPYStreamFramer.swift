// `.npy` matrices as a record stream: each row of a C-order `<f2`/`<f4`/`<f8`
// matrix is one record, read incrementally (a partial row at most is held), so
// a 100 GB file streams through a fixed buffer. Several arrays may follow one
// another in the same stream (`cat a.npy b.npy`): each starts with its header.
// Ids and scores come from a `RowAnnotations` (an ids file, a scores file), or
// the row number is the id.

import PrunerCore

/// Ids and scores for the rows of a matrix stream, in row order.
///
/// Why a protocol: the codec reads bytes only; where the ids come from (a text
/// file beside the matrix, one per shard, nothing) is the daemon's business.
public protocol RowAnnotations: AnyObject {
    /// The id and score of row `row` (0-based over the whole stream, across shards).
    /// Called once per row, in order. Throws when the ids or scores ran out or are bad.
    func annotation(forRow row: UInt64) throws(StreamError) -> (id: String, score: Float?)
    /// The stream ended after `rows` rows: throws when ids or scores are left over.
    func finish(rows: UInt64) throws(StreamError)
}

/// Incremental `.npy` framer.
struct NPYStreamFramer {
    /// Header bytes of the array being started (a header is small: numpy pads to 64 bytes).
    private var preamble: [UInt8] = []
    private var header: NPYHeader?
    /// Rows of the current array still to come.
    private var rowsLeft = 0
    /// Bytes of a row that spans feeds.
    private var partialRow: [UInt8] = []
    private var scratch: [Float] = []
    /// Rows so far over all arrays of the stream (the default id).
    private(set) var rowsDecoded: UInt64 = 0
    /// Columns of the first array; later arrays must agree.
    private var firstColumns: Int?
    private var arrayStart: UInt64 = 0
    var annotations: RowAnnotations?

    static let maximumHeaderSize = 1 << 20

    /// No array is being read: the stream may end or another array begin.
    var isAtArrayBoundary: Bool { header == nil && preamble.isEmpty }

    mutating func feed(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, _ sink: (RecordEvent) -> Void) throws(StreamError) {
        guard let base = bytes.baseAddress else { return }
        var position = 0
        while position < bytes.count {
            guard let header else {
                position += try collectHeader(UnsafeRawBufferPointer(start: base + position, count: bytes.count - position),
                                              at: offset + UInt64(position))
                continue
            }
            let rowSize = header.columns * header.element.size
            if !partialRow.isEmpty {
                let take = min(rowSize - partialRow.count, bytes.count - position)
                partialRow.append(contentsOf: UnsafeRawBufferPointer(start: base + position, count: take))
                position += take
                guard partialRow.count == rowSize else { return }
                let row = partialRow
                partialRow = []
                // (A typed-throws closure passed to withUnsafeBytes crashes Swift 6.3's IRGen: a Result instead.)
                let emitted = row.withUnsafeBytes { raw in
                    Result { () throws(StreamError) in try emit(raw.baseAddress!, header: header, sink) }
                }
                try emitted.get()
                partialRow = row
                partialRow.removeAll(keepingCapacity: true)
                continue
            }
            while rowsLeft > 0 && bytes.count - position >= rowSize {
                try emit(base + position, header: header, sink)
                position += rowSize
            }
            if rowsLeft == 0 {
                self.header = nil
                continue
            }
            if position < bytes.count {
                partialRow.append(contentsOf: UnsafeRawBufferPointer(start: base + position, count: bytes.count - position))
                position = bytes.count
            }
        }
    }

    /// End of input: inside a header or an array is a truncation.
    func finish(at offset: UInt64) throws(StreamError) {
        if let header, rowsLeft > 0 {
            let done = header.rows - rowsLeft
            throw StreamError(offset: offset, layer: .record,
                              reason: "truncated .npy: the input ends inside row \(done) of \(header.summary) "
                                + "(\(partialRow.count) bytes of the row present)")
        }
        if !preamble.isEmpty {
            throw StreamError(offset: arrayStart, layer: .record,
                              reason: "truncated .npy: the input ends inside a header (\(preamble.count) bytes)")
        }
        try annotations?.finish(rows: rowsDecoded)
    }

    /// Collects and parses a header; returns how many bytes it took.
    private mutating func collectHeader(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(StreamError) -> Int {
        if preamble.isEmpty { arrayStart = offset }
        var taken = 0
        while true {
            let needed: Int?
            switch preamble.withUnsafeBytes({ raw in Result { () throws(NPYError) in try NPYHeader.preambleLength(raw) } }) {
            case .success(let length): needed = length
            case .failure(let error):
                let what = rowsDecoded > 0 ? "after \(rowsDecoded) rows, expected another .npy array or the end: " : ""
                throw StreamError(offset: arrayStart, layer: .record, reason: what + error.reason)
            }
            let want = needed ?? (preamble.count + 1)
            guard want <= Self.maximumHeaderSize else {
                throw StreamError(offset: arrayStart, layer: .record, reason: ".npy header of \(want) bytes is too large")
            }
            if preamble.count >= want, needed != nil { break }
            guard taken < bytes.count else { return taken }
            let take = min(want - preamble.count, bytes.count - taken)
            preamble.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[taken..<taken + take]))
            taken += take
        }
        let parsed: NPYHeader
        switch preamble.withUnsafeBytes({ raw in Result { () throws(NPYError) in try NPYHeader.parse(raw) } }) {
        case .success(let header): parsed = header
        case .failure(let error): throw StreamError(offset: arrayStart, layer: .record, reason: error.description)
        }
        if let firstColumns, firstColumns != parsed.columns {
            throw StreamError(offset: arrayStart, layer: .record,
                              reason: "dimension mismatch: this .npy array is \(parsed.summary), the arrays before it "
                                + "have \(firstColumns) columns (expected \(firstColumns), got \(parsed.columns))")
        }
        if parsed.columns == 0 && parsed.rows > 0 {
            throw StreamError(offset: arrayStart, layer: .record, reason: "this .npy array is \(parsed.summary): rows of no columns")
        }
        firstColumns = parsed.columns
        preamble.removeAll(keepingCapacity: true)
        header = parsed.rows > 0 ? parsed : nil
        rowsLeft = parsed.rows
        return taken
    }

    private mutating func emit(_ row: UnsafeRawPointer, header: NPYHeader, _ sink: (RecordEvent) -> Void) throws(StreamError) {
        let d = header.columns
        if scratch.count < d { scratch = [Float](repeating: 0, count: d) }
        scratch.withUnsafeMutableBufferPointer { out in
            switch header.element {
            case .float16: convertElements(.float16, from: row, count: d, to: out.baseAddress!)
            case .float32: convertElements(.float32, from: row, count: d, to: out.baseAddress!)
            case .float64:
                for i in 0..<d {
                    out[i] = Float(Double(bitPattern: UInt64(littleEndian: row.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                }
            }
        }
        let (id, score) = try annotations?.annotation(forRow: rowsDecoded) ?? (String(rowsDecoded), nil)
        rowsDecoded += 1
        rowsLeft -= 1
        guard !id.isEmpty, id.utf8.count <= PRN1Framer.maxIDLength else { return sink(.rejected(id: "", reason: .badID)) }
        scratch.withUnsafeBufferPointer { out in
            sink(.record(id: id, vector: UnsafeBufferPointer(rebasing: out[0..<d]), score: score))
        }
    }
}
