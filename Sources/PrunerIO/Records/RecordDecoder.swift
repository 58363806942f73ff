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
            guard bytes.count > 0 else { return }
            if !head.isEmpty {
                guard try completeHead(&bytes, sink) else { return }
            } else {
                guard let chosen = try detect(&bytes) else { return }
                encoding = chosen
            }
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
        if encoding == nil && !head.isEmpty {
            if head == [UInt8(ascii: "P")] && consumedBytes == 0 {
                // A lone `P`: a PRN1 stream cut after its first byte, as when it arrives whole.
                encoding = .prn1
                try feedHeadToPRN1(sink)
            } else {
                throw unreadable(head)
            }
        }
        switch encoding {
        case nil: return
        case .prn1: try prn1.finish(at: consumedBytes)
        case .jsonLines: jsonLines.finish(sink)
        case .npy: try npy.finish(at: consumedBytes)
        }
    }

    /// How many bytes, from the first one that is not whitespace, name content that
    /// is not records. A fixed window, so that the error is the same however the
    /// stream is cut into reads (a socket's 1-byte read and a file's 64 KiB one).
    static let detectionWindow = 16

    /// Bytes from the first non-whitespace one on, held while the encoding cannot
    /// be told from them yet (a lone `P`, or the start of unreadable content);
    /// at most ``detectionWindow``, not yet counted in `consumedBytes`.
    private var head: [UInt8] = []

    /// The error for unreadable content starting at `consumedBytes`, named from its first bytes.
    private func unreadable(_ prefix: UnsafeRawBufferPointer) -> StreamError {
        StreamError(
            offset: consumedBytes, layer: .record,
            reason: ContentKind(prefix: UnsafeRawBufferPointer(rebasing: prefix.prefix(Self.detectionWindow))).unreadableReason)
    }

    private func unreadable(_ prefix: [UInt8]) -> StreamError {
        prefix.withUnsafeBytes { unreadable($0) }
    }

    /// Adds `bytes` to the held head. Returns true once PRN1 is chosen (the head
    /// has been fed and `bytes` is left to feed); false while still held; throws
    /// once the window is full of unreadable content.
    private mutating func completeHead(_ bytes: inout UnsafeRawBufferPointer, _ sink: (RecordEvent) -> Void) throws(StreamError) -> Bool {
        if head == [UInt8(ascii: "P")] && consumedBytes == 0
            && bytes[0] != UInt8(ascii: "A") && bytes[0] != UInt8(ascii: "K") {
            encoding = .prn1
            try feedHeadToPRN1(sink)
            return true
        }
        let take = min(Self.detectionWindow - head.count, bytes.count)
        head.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<take]))
        if head.count >= Self.detectionWindow { throw unreadable(head) }
        return false
    }

    private mutating func feedHeadToPRN1(_ sink: (RecordEvent) -> Void) throws(StreamError) {
        let held = head
        head = []
        consumedBytes += UInt64(held.count)
        try held.withUnsafeBytes { buffer in
            Result { () throws(StreamError) in try prn1.feed(buffer, at: 0, sink) }
        }.get()
    }

    /// Holds the rest of `bytes` (from `index`) as the head, or throws if it already fills the window.
    private mutating func holdOrThrow(_ bytes: UnsafeRawBufferPointer, from index: Int) throws(StreamError) -> RecordEncoding? {
        consumedBytes += UInt64(index)
        let rest = UnsafeRawBufferPointer(rebasing: bytes[index...])
        if rest.count >= Self.detectionWindow { throw unreadable(rest) }
        head = Array(rest)
        return nil
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
                    // Wait for the second byte when this read ends after the `P`.
                    guard bytes.count > 1 else { return try holdOrThrow(bytes, from: 0) }
                    guard bytes[1] == UInt8(ascii: "A") || bytes[1] == UInt8(ascii: "K") else { return .prn1 }
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
                return try holdOrThrow(bytes, from: index)
            }
        }
        consumedBytes += UInt64(index)
        return nil
    }
}
