// LZ4FrameEncoder: bytes → one LZ4 frame, incrementally, through liblz4's frame
// API — what `prunerd encode` writes, readable by `lz4 -d`, python-lz4 and prunerd.
// Every liblz4 compression call lives in this file.

import CLZ4

/// Compresses a byte stream into a single LZ4 frame, in bounded memory.
///
/// Why a class: it owns a liblz4 compression context that must be freed exactly once.
public final class LZ4FrameEncoder {
    /// Largest input handed to liblz4 at once; output buffers are sized for it.
    public static let chunkSize = 256 * 1024

    private let context: OpaquePointer
    private var preferences = LZ4F_preferences_t()
    private var output: [UInt8]
    private var started = false

    /// Traps only if liblz4 cannot allocate a context.
    public init() {
        var cctx: OpaquePointer?
        let code = LZ4F_createCompressionContext(&cctx, UInt32(LZ4F_VERSION))
        precondition(LZ4F_isError(code) == 0 && cctx != nil, "LZ4F_createCompressionContext failed")
        context = cctx!
        // Independent 256 KiB blocks with a content checksum: a reader can check the whole stream.
        preferences.frameInfo.blockSizeID = LZ4F_max256KB
        preferences.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        output = [UInt8](repeating: 0, count: LZ4F_compressBound(Self.chunkSize, &preferences) + 64)
    }

    deinit { LZ4F_freeCompressionContext(context) }

    /// Compresses `bytes`; `emit` gets the compressed bytes produced (maybe none).
    public func feed(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void) {
        if !started {
            started = true
            let size = output.withUnsafeMutableBytes { LZ4F_compressBegin(context, $0.baseAddress, $0.count, &preferences) }
            precondition(LZ4F_isError(size) == 0, "LZ4F_compressBegin failed")
            output.withUnsafeBytes { emit(UnsafeRawBufferPointer(rebasing: $0[0..<size])) }
        }
        var position = 0
        while position < bytes.count {
            let take = min(Self.chunkSize, bytes.count - position)
            let size = output.withUnsafeMutableBytes {
                LZ4F_compressUpdate(context, $0.baseAddress, $0.count, bytes.baseAddress! + position, take, nil)
            }
            precondition(LZ4F_isError(size) == 0, "LZ4F_compressUpdate failed")
            if size > 0 { output.withUnsafeBytes { emit(UnsafeRawBufferPointer(rebasing: $0[0..<size])) } }
            position += take
        }
    }

    /// Ends the frame (end mark and checksum); `emit` gets the last bytes.
    public func finish(emit: (UnsafeRawBufferPointer) -> Void) {
        if !started { feed(UnsafeRawBufferPointer(start: nil, count: 0), emit: emit) }
        let size = output.withUnsafeMutableBytes { LZ4F_compressEnd(context, $0.baseAddress, $0.count, nil) }
        precondition(LZ4F_isError(size) == 0, "LZ4F_compressEnd failed")
        output.withUnsafeBytes { emit(UnsafeRawBufferPointer(rebasing: $0[0..<size])) }
    }
}
