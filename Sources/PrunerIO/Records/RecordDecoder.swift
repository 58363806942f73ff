// RecordDecoder: decompressed bytes → record events, for either encoding.
//
// The stream's first byte picks the encoding (`P` → PRN1, `{` after optional
// whitespace → JSON Lines); the framers do the rest.

import PrunerCore

/// Decodes one input's decompressed bytes into records, incrementally and in
/// bounded memory (at most one partial record is held).
///
/// Why one decoder for both encodings: inputs are self-describing, so the
/// daemon need not be told which encoding each file or socket speaks.
public struct RecordDecoder {
    /// The largest record body (PRN1 `length`) or JSON line accepted.
    public let maxRecordSize: Int
    /// The encoding detected from the stream's first byte; `nil` until then.
    public private(set) var encoding: RecordEncoding?
    /// Decompressed bytes consumed so far; error offsets count in the same bytes.
    public private(set) var consumedBytes: UInt64 = 0

    private var prn1: PRN1Framer
    private var jsonLines: JSONLinesFramer
    private var npy = NPYStreamFramer()

    /// Ids and scores of `.npy` rows (an ids file, a scores file); without them a
    /// row's id is its row number and it has no score. Unused by PRN1 and JSON Lines.
    public var annotations: RowAnnotations? {
        get { npy.annotations }
        set { npy.annotations = newValue }
    }

    /// - Parameter maxRecordSize: bounds the memory held per input; larger PRN1
    ///   records end the stream, larger JSON lines are rejected as `too_large`.
    public init(maxRecordSize: Int = 1 << 20) {
        precondition(maxRecordSize >= 16, "maxRecordSize too small")
        self.maxRecordSize = maxRecordSize
        prn1 = PRN1Framer(maxRecordSize: maxRecordSize)
        jsonLines = JSONLinesFramer(maxRecordSize: maxRecordSize)
    }

    /// Whether a `.npy` stream stands between two arrays (true for other encodings):
    /// where one shard may end and the next begin.
    public var isAtArrayBoundary: Bool { encoding != .npy || npy.isAtArrayBoundary }

    /// Feeds the next decompressed bytes; `sink` gets one event per record
    /// completed by them, in stream order. Throws when the stream can no longer
    /// be framed (unknown encoding, bad PRN1 magic or length); after a throw the
    /// decoder must not be fed again.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ sink: (RecordEvent) -> Void) throws(StreamError) {
        var bytes = bytes
        if encoding == nil {
            guard let chosen = try detect(&bytes) else { return }
            encoding = chosen
        }
        let offset = consumedBytes
        consumedBytes += UInt64(bytes.count)
        switch encoding! {
        case .prn1: try prn1.feed(bytes, at: offset, sink)
        case .jsonLines: jsonLines.feed(bytes, sink)
        case .npy: try npy.feed(bytes, at: offset, sink)
        }
    }

    /// Declares the end of input. A JSON line without a final newline is
    /// delivered to `sink`; a partial PRN1 record throws (truncated input).
    public mutating func finish(_ sink: (RecordEvent) -> Void) throws(StreamError) {
        switch encoding {
        case nil: return
        case .prn1: try prn1.finish(at: consumedBytes)
        case .jsonLines: jsonLines.finish(sink)
        case .npy: try npy.finish(at: consumedBytes)
        }
    }

    /// Skips leading whitespace and picks the encoding from the first other byte.
    /// Consumes what it skips from `bytes`; `nil` if `bytes` held only whitespace.
    private mutating func detect(_ bytes: inout UnsafeRawBufferPointer) throws(StreamError) -> RecordEncoding? {
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if consumedBytes == 0 && index == 0 {
                if byte == 0x93 { return .npy }
                // `P` is PRN1, unless the next byte (when already here) says Parquet's PAR1 or zip's PK.
                if byte == UInt8(ascii: "P") {
                    guard bytes.count > 1, bytes[1] == UInt8(ascii: "A") || bytes[1] == UInt8(ascii: "K") else { return .prn1 }
                }
            }
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D:
                index += 1
            case UInt8(ascii: "{"):
                consumedBytes += UInt64(index)
                bytes = UnsafeRawBufferPointer(rebasing: bytes[index...])
                return .jsonLines
            default:
                throw StreamError(
                    offset: consumedBytes + UInt64(index), layer: .record,
                    reason: ContentKind(prefix: UnsafeRawBufferPointer(rebasing: bytes[index...])).unreadableReason)
            }
        }
        consumedBytes += UInt64(index)
        return nil
    }
}
