// LZ4StreamDecoder: one input's bytes → decompressed bytes, incrementally.
//
// An input is either a sequence of LZ4 frames (the `lz4` CLI, python-lz4, …)
// or raw bytes; the first bytes decide. Every liblz4 call and every pointer
// handed to C lives in this file.

import CLZ4

/// Decompresses one input stream incrementally, in bounded memory.
///
/// Why a class: it owns a liblz4 decompression context that must be freed
/// exactly once; one decoder per input, never shared between inputs.
///
/// The stream's first bytes decide its mode. If they are an LZ4 frame magic
/// (`04 22 4D 18`) or a skippable-frame magic (`0x184D2A50…0x184D2A5F`, little
/// endian), the stream is one or more concatenated frames; anything else is
/// passed through untouched. Output is delivered in chunks of at most
/// ``outputChunkSize`` bytes, so a tiny input that decompresses to gigabytes
/// still needs only a fixed buffer.
public final class LZ4StreamDecoder {
    /// Largest chunk handed to `output` in LZ4 mode; the size of the one reused output buffer.
    public static let outputChunkSize = 256 * 1024

    private enum Mode {
        /// Fewer than 4 bytes seen, all of them a prefix of some frame magic.
        case undecided
        /// Not LZ4: bytes pass through.
        case raw
        /// Between frames (or at the very start once LZ4 was chosen): the next 4 bytes must be a magic.
        case frameBoundary
        /// Inside a frame that liblz4 is decoding.
        case inFrame
    }

    private var mode: Mode = .undecided
    /// Bytes of a magic collected across feeds; `pendingCount` of them are valid.
    private var pending: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
    private var pendingCount = 0
    /// Compressed offset at which the current frame (or pending magic) starts.
    private var frameStart: UInt64 = 0
    /// liblz4's hint of how many source bytes its next step wants.
    private var nextSourceHint = Int.max
    private let context: OpaquePointer
    private let outputBuffer: UnsafeMutableRawBufferPointer

    /// Compressed (or raw) bytes consumed so far.
    public private(set) var consumedBytes: UInt64 = 0

    /// Creates a decoder for one input. Traps only if liblz4 cannot allocate a context.
    public init() {
        var dctx: OpaquePointer?
        let code = LZ4F_createDecompressionContext(&dctx, UInt32(LZ4F_VERSION))
        precondition(LZ4F_isError(code) == 0 && dctx != nil, "LZ4F_createDecompressionContext failed")
        context = dctx!
        outputBuffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: Self.outputChunkSize, alignment: 16)
    }

    deinit {
        LZ4F_freeDecompressionContext(context)
        outputBuffer.deallocate()
    }

    /// Feeds the next bytes of the input (compressed or raw) and calls `output`
    /// zero or more times with decompressed bytes, which are valid only during
    /// that call. Throws on corrupt LZ4 data or garbage between frames; after a
    /// throw the decoder must not be fed again.
    public func feed(
        _ bytes: UnsafeRawBufferPointer,
        output: (UnsafeRawBufferPointer) throws(StreamError) -> Void
    ) throws(StreamError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var position = 0
        while position < bytes.count {
            switch mode {
            case .raw:
                consumedBytes += UInt64(bytes.count - position)
                try output(UnsafeRawBufferPointer(start: base + position, count: bytes.count - position))
                return
            case .undecided, .frameBoundary:
                position += try collectMagic(base + position, count: bytes.count - position, output: output)
            case .inFrame:
                position += try decompress(base + position, count: bytes.count - position, output: output)
            }
        }
    }

    /// Declares the end of input. Throws if it ends inside a frame or inside a
    /// frame magic ("truncated LZ4 frame").
    public func finish() throws(StreamError) {
        switch mode {
        case .raw:
            return
        case .undecided where pendingCount == 0, .frameBoundary where pendingCount == 0:
            return
        case .undecided, .frameBoundary, .inFrame:
            throw StreamError(offset: frameStart, layer: .compression, reason: "truncated LZ4 frame")
        }
    }

    // MARK: - Magic detection

    /// Whether `byte` can be the `index`th byte of a frame or skippable-frame magic.
    private static func fitsMagic(_ byte: UInt8, at index: Int, first: UInt8) -> Bool {
        switch index {
        case 0: return byte == 0x04 || byte & 0xF0 == 0x50
        case 1: return first == 0x04 ? byte == 0x22 : byte == 0x2A
        case 2: return byte == 0x4D
        default: return byte == 0x18
        }
    }

    private var pendingBytes: [UInt8] {
        [pending.0, pending.1, pending.2, pending.3].prefix(pendingCount).map { $0 }
    }

    private func setPending(_ index: Int, _ byte: UInt8) {
        switch index {
        case 0: pending.0 = byte
        case 1: pending.1 = byte
        case 2: pending.2 = byte
        default: pending.3 = byte
        }
    }

    /// Collects up to 4 magic bytes; on a full magic hands them to liblz4 and
    /// enters `.inFrame`. Returns how many of the given bytes were used.
    private func collectMagic(
        _ start: UnsafeRawPointer, count: Int,
        output: (UnsafeRawBufferPointer) throws(StreamError) -> Void
    ) throws(StreamError) -> Int {
        if pendingCount == 0 { frameStart = consumedBytes }
        var used = 0
        while pendingCount < 4 && used < count {
            let byte = start.load(fromByteOffset: used, as: UInt8.self)
            if !Self.fitsMagic(byte, at: pendingCount, first: pendingCount == 0 ? byte : pending.0) {
                if mode == .undecided {
                    // Not LZ4: everything so far is data.
                    mode = .raw
                    let held = pendingBytes
                    pendingCount = 0
                    if !held.isEmpty {
                        try held.withUnsafeBytes { buffer in
                            Result { () throws(StreamError) in try output(buffer) }
                        }.get()
                    }
                    return used
                }
                let seen = (pendingBytes + [byte]).map { hexByte($0) }.joined(separator: " ")
                throw StreamError(
                    offset: frameStart, layer: .compression,
                    reason: "expected an LZ4 frame magic after the previous frame, found bytes \(seen)")
            }
            setPending(pendingCount, byte)
            pendingCount += 1
            used += 1
            consumedBytes += 1
        }
        if pendingCount == 4 {
            mode = .inFrame
            pendingCount = 0
            var magic = pending
            // The magic is already counted in consumedBytes; hand it to liblz4 without recounting.
            consumedBytes -= 4
            let taken = try withUnsafeBytes(of: &magic) { buffer in
                Result { () throws(StreamError) in try decompress(buffer.baseAddress!, count: 4, output: output) }
            }.get()
            precondition(taken == 4, "liblz4 did not take a frame magic")
        }
        return used
    }

    // MARK: - liblz4

    /// Runs `LZ4F_decompress` over the given bytes until they are used up or the
    /// frame ends, draining all output. Returns the number of bytes consumed.
    private func decompress(
        _ start: UnsafeRawPointer, count: Int,
        output: (UnsafeRawBufferPointer) throws(StreamError) -> Void
    ) throws(StreamError) -> Int {
        var used = 0
        while true {
            // Feeding at most liblz4's hint (about one block) per call makes the
            // offset of a failing call point at the failing block.
            var srcSize = min(count - used, nextSourceHint)
            var dstSize = outputBuffer.count
            let callOffset = consumedBytes
            let hint = LZ4F_decompress(
                context, outputBuffer.baseAddress, &dstSize, start + used, &srcSize, nil)
            if LZ4F_isError(hint) != 0 {
                let name = String(cString: LZ4F_getErrorName(hint))
                LZ4F_resetDecompressionContext(context)
                throw StreamError(offset: callOffset, layer: .compression, reason: "LZ4F_decompress: \(name)")
            }
            used += srcSize
            consumedBytes += UInt64(srcSize)
            nextSourceHint = hint == 0 ? Int.max : hint
            if dstSize > 0 {
                try output(UnsafeRawBufferPointer(start: outputBuffer.baseAddress, count: dstSize))
            }
            if hint == 0 {
                // Frame (or skippable frame) complete; liblz4 is ready for the next one.
                mode = .frameBoundary
                return used
            }
            if used == count && dstSize < outputBuffer.count {
                // Input used up and liblz4 holds no more output for now.
                return used
            }
            if srcSize == 0 && dstSize == 0 {
                throw StreamError(offset: consumedBytes, layer: .compression,
                                  reason: "LZ4F_decompress made no progress")
            }
        }
    }
}
