// Inflater: raw DEFLATE (zip method 8) → bytes, incrementally, through zlib.
// Used for members of `.npz` archives written by numpy.savez_compressed. Every
// zlib call and every pointer handed to it lives in this file.

import CZlib

/// Inflates one raw DEFLATE stream in bounded memory (one output buffer).
///
/// Why a class: it owns a zlib stream that must be ended exactly once.
public final class Inflater {
    /// Largest chunk handed to `output`.
    public static let outputChunkSize = 256 * 1024

    private var stream = z_stream()
    private let outputBuffer: UnsafeMutableRawBufferPointer
    /// Whether the DEFLATE stream's final block has been inflated.
    public private(set) var isFinished = false
    /// Compressed bytes consumed so far.
    public private(set) var consumedBytes: UInt64 = 0

    /// Traps only if zlib cannot allocate its state.
    public init() {
        outputBuffer = .allocate(byteCount: Self.outputChunkSize, alignment: 16)
        let status = prunerd_inflate_init_raw(&stream)
        precondition(status == Z_OK, "inflateInit2 failed: \(status)")
    }

    deinit {
        inflateEnd(&stream)
        outputBuffer.deallocate()
    }

    /// Inflates `bytes`, calling `output` with each chunk (valid only during the call).
    /// Bytes after the end of the DEFLATE stream are ignored.
    public func feed(_ bytes: UnsafeRawBufferPointer,
                     output: (UnsafeRawBufferPointer) throws(StreamError) -> Void) throws(StreamError) {
        guard let base = bytes.baseAddress, !bytes.isEmpty, !isFinished else { return }
        stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(bytes.count)
        while stream.avail_in > 0 && !isFinished {
            stream.next_out = outputBuffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(outputBuffer.count)
            let before = stream.avail_in
            let status = inflate(&stream, Z_NO_FLUSH)
            consumedBytes += UInt64(before - stream.avail_in)
            let produced = outputBuffer.count - Int(stream.avail_out)
            switch status {
            case Z_OK, Z_BUF_ERROR: break
            case Z_STREAM_END: isFinished = true
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "status \(status)"
                throw StreamError(offset: consumedBytes, layer: .compression, reason: "inflate: \(message)")
            }
            if produced > 0 { try output(UnsafeRawBufferPointer(start: outputBuffer.baseAddress, count: produced)) }
            if produced == 0 && before == stream.avail_in { break }
        }
        // zlib may hold output after the input is used up.
        while !isFinished {
            stream.next_out = outputBuffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(outputBuffer.count)
            let status = inflate(&stream, Z_NO_FLUSH)
            let produced = outputBuffer.count - Int(stream.avail_out)
            if status == Z_STREAM_END { isFinished = true }
            if produced > 0 { try output(UnsafeRawBufferPointer(start: outputBuffer.baseAddress, count: produced)) }
            if produced < outputBuffer.count { break }
        }
        stream.next_in = nil
        stream.avail_in = 0
    }

    /// End of input: throws when the DEFLATE stream was cut short.
    public func finish() throws(StreamError) {
        guard isFinished else {
            throw StreamError(offset: consumedBytes, layer: .compression, reason: "truncated deflate stream")
        }
    }
}
