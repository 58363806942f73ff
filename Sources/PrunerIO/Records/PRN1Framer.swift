// PRN1 binary records: framing (magic + length) and body validation.
//
// Wire format v1, little-endian:
//   "PRN1" | length u32 | dtype u8 | flags u8 | dim u16 | id_len u16 | id | vector | score f32?
// `length` counts the bytes after itself. A bad magic or length ends the stream
// (we can no longer find the next record); anything else inside a well-framed
// record is a rejection and decoding goes on with the next record.

import PrunerCore

/// Incremental PRN1 framer. Holds at most one partial record (≤ 8 + maxRecordSize bytes).
struct PRN1Framer {
    static let headerSize = 8
    static let maxIDLength = 1024

    let maxRecordSize: Int
    /// The current record's bytes when it spans feeds; empty otherwise.
    private var partial: [UInt8] = []
    /// The body length of the record in `partial`, once its header is complete.
    private var partialBodyLength: Int?
    /// Stream offset of the record in `partial`.
    private var partialStart: UInt64 = 0
    /// Reused vector scratch: no allocation per record beyond the id.
    private var scratch: [Float] = []

    init(maxRecordSize: Int) {
        self.maxRecordSize = maxRecordSize
    }

    /// Frames and decodes `bytes`, which start at stream offset `offset`.
    mutating func feed(
        _ bytes: UnsafeRawBufferPointer, at offset: UInt64, _ sink: (RecordEvent) -> Void
    ) throws(StreamError) {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        var position = 0
        while position < count {
            if partial.isEmpty {
                // Fast path: whole records straight from the caller's bytes.
                let remaining = count - position
                if remaining >= Self.headerSize {
                    let length = try bodyLength(base + position, at: offset + UInt64(position))
                    if remaining >= Self.headerSize + length {
                        decodeBody(UnsafeRawBufferPointer(start: base + position + Self.headerSize, count: length), sink)
                        position += Self.headerSize + length
                        continue
                    }
                    partialBodyLength = length
                }
                partialStart = offset + UInt64(position)
                partial.append(contentsOf: UnsafeRawBufferPointer(start: base + position, count: remaining))
                return
            }
            // Slow path: complete the buffered record.
            if partialBodyLength == nil {
                let take = min(Self.headerSize - partial.count, count - position)
                partial.append(contentsOf: UnsafeRawBufferPointer(start: base + position, count: take))
                position += take
                guard partial.count == Self.headerSize else { return }
                let start = partialStart
                partialBodyLength = try partial.withUnsafeBytes { header in
                    Result { () throws(StreamError) in try bodyLength(header.baseAddress!, at: start) }
                }.get()
            }
            let total = Self.headerSize + partialBodyLength!
            let take = min(total - partial.count, count - position)
            partial.append(contentsOf: UnsafeRawBufferPointer(start: base + position, count: take))
            position += take
            guard partial.count == total else { return }
            var record = partial
            partial = []
            record.withUnsafeBytes { decodeBody(UnsafeRawBufferPointer(rebasing: $0[Self.headerSize...]), sink) }
            // Keep the grown buffer for the next partial record.
            record.removeAll(keepingCapacity: true)
            partial = record
            partialBodyLength = nil
        }
    }

    /// End of input: a partial record is a truncation.
    func finish(at offset: UInt64) throws(StreamError) {
        guard partial.isEmpty else {
            let need = partialBodyLength.map { "\(Self.headerSize + $0)" } ?? "at least \(Self.headerSize)"
            throw StreamError(
                offset: partialStart, layer: .record,
                reason: "truncated PRN1 record at end of input: \(partial.count) of \(need) bytes")
        }
    }

    /// Validates a record header (8 bytes at `header`) and returns the body length.
    private func bodyLength(_ header: UnsafeRawPointer, at offset: UInt64) throws(StreamError) -> Int {
        let magic = UInt32(littleEndian: header.loadUnaligned(as: UInt32.self))
        guard magic == 0x314E_5250 else {  // "PRN1"
            if offset == 0 {
                // The stream's first bytes: say what the input is (a Parquet file, a zip) rather than which bytes.
                let kind = ContentKind(prefix: UnsafeRawBufferPointer(start: header, count: Self.headerSize))
                if kind != .prn1 && kind != .unknown(firstByte: 0x50) && kind != .text {
                    throw StreamError(offset: offset, layer: .record, reason: kind.unreadableReason)
                }
            }
            let seen = (0..<4).map { hexByte(header.load(fromByteOffset: $0, as: UInt8.self)) }
            throw StreamError(
                offset: offset, layer: .record,
                reason: "expected PRN1 record magic 50 52 4e 31, found \(seen.joined(separator: " "))")
        }
        let length = Int(UInt32(littleEndian: header.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        guard length <= maxRecordSize else {
            throw StreamError(
                offset: offset, layer: .record,
                reason: "PRN1 record length \(length) exceeds the maximum record size \(maxRecordSize)")
        }
        guard length >= 6 else {
            throw StreamError(
                offset: offset, layer: .record, reason: "PRN1 record length \(length) is shorter than its 6-byte header")
        }
        return length
    }

    /// Decodes one framed record body into exactly one event.
    private mutating func decodeBody(_ body: UnsafeRawBufferPointer, _ sink: (RecordEvent) -> Void) {
        let base = body.baseAddress!
        let dtypeByte = base.load(as: UInt8.self)
        let flags = base.load(fromByteOffset: 1, as: UInt8.self)
        let dim = Int(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        let idLength = Int(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))

        var id: String?
        if idLength >= 1 && idLength <= Self.maxIDLength && 6 + idLength <= body.count {
            id = validatedUTF8(UnsafeRawBufferPointer(start: base + 6, count: idLength).bindMemory(to: UInt8.self))
        }
        guard let type = ElementType(rawValue: dtypeByte) else {
            return sink(.rejected(id: id ?? "", reason: .badDtype))
        }
        guard flags & ~1 == 0 else { return sink(.rejected(id: id ?? "", reason: .badFlags)) }
        guard dim > 0 else { return sink(.rejected(id: id ?? "", reason: .badDimension)) }
        guard idLength >= 1 && idLength <= Self.maxIDLength else { return sink(.rejected(id: "", reason: .badID)) }
        guard 6 + idLength <= body.count else { return sink(.rejected(id: "", reason: .badLength)) }
        guard let id else { return sink(.rejected(id: "", reason: .badID)) }
        let hasScore = flags & 1 != 0
        guard body.count == 6 + idLength + dim * type.size + (hasScore ? 4 : 0) else {
            return sink(.rejected(id: id, reason: .badLength))
        }
        let vectorStart = base + 6 + idLength
        var score: Float?
        if hasScore {
            score = Float(bitPattern: UInt32(littleEndian: vectorStart.loadUnaligned(
                fromByteOffset: dim * type.size, as: UInt32.self)))
        }
        if scratch.count < dim { scratch = [Float](repeating: 0, count: dim) }
        scratch.withUnsafeMutableBufferPointer { out in
            convertElements(type, from: vectorStart, count: dim, to: out.baseAddress!)
        }
        scratch.withUnsafeBufferPointer { out in
            sink(.record(id: id, vector: UnsafeBufferPointer(rebasing: out[0..<dim]), score: score))
        }
    }
}
