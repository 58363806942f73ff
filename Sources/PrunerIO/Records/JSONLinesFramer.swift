// JSON Lines framing: split decompressed bytes into lines, hand each complete
// line to the record parser, and cut over-long lines without buffering them.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import PrunerCore

/// Incremental line splitter. Holds at most one partial line (≤ maxRecordSize bytes).
struct JSONLinesFramer {
    let maxRecordSize: Int
    private var line: [UInt8] = []
    /// Inside a line already rejected as too large: drop bytes up to the next newline.
    private var skippingLine = false
    private var parser = JSONRecordParser()

    init(maxRecordSize: Int) {
        self.maxRecordSize = maxRecordSize
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ sink: (RecordEvent) -> Void) {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        var position = 0
        while position < count {
            let remaining = count - position
            let newline = memchr(base + position, 0x0A, remaining).map { UnsafeRawPointer($0) - base }
            if skippingLine {
                guard let newline else { return }
                skippingLine = false
                position = newline + 1
                continue
            }
            guard let newline else {
                if line.count + remaining > maxRecordSize {
                    tooLarge(sink)
                    skippingLine = true
                } else {
                    line.append(contentsOf: UnsafeRawBufferPointer(start: base + position, count: remaining))
                }
                return
            }
            let length = newline - position
            if line.count + length > maxRecordSize {
                tooLarge(sink)
            } else if line.isEmpty {
                parser.parse(UnsafeRawBufferPointer(start: base + position, count: length), sink)
            } else {
                line.append(contentsOf: UnsafeRawBufferPointer(start: base + position, count: length))
                parseBufferedLine(sink)
            }
            position = newline + 1
        }
    }

    /// End of input: a last line without `\n` is still a record.
    mutating func finish(_ sink: (RecordEvent) -> Void) {
        skippingLine = false
        if !line.isEmpty { parseBufferedLine(sink) }
    }

    private mutating func tooLarge(_ sink: (RecordEvent) -> Void) {
        line.removeAll(keepingCapacity: true)
        sink(.rejected(id: "", reason: .tooLarge))
    }

    private mutating func parseBufferedLine(_ sink: (RecordEvent) -> Void) {
        var buffered = line
        line = []
        buffered.withUnsafeBytes { parser.parse($0, sink) }
        buffered.removeAll(keepingCapacity: true)
        line = buffered
    }
}
