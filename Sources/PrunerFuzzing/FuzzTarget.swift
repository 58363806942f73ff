// The fuzz targets' entry points, one per parser that reads bytes from outside.
//
// They live in a library (not in the fuzz executables) so that the normal test
// suite replays each kept corpus through exactly the code libFuzzer ran, without
// the sanitizer: a regression found once stays caught in CI.

/// A parser that reads untrusted bytes, as libFuzzer drives it.
///
/// Why an enum: `scripts/fuzz TARGET`, the executables `fuzz-TARGET`, the corpus
/// folders `Fuzz/Corpus/TARGET` and the replay test share these names.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `LZ4StreamDecoder`: LZ4 frames or raw bytes, fed in arbitrary pieces.
    case lz4Stream = "lz4-stream"
    /// `RecordDecoder` on PRN1 records (seeded with PRN1 streams).
    case prn1
    /// `RecordDecoder` on JSON Lines (seeded with JSON Lines).
    case jsonLines = "json-lines"
    /// `NPYArray.decode`, the `--centroids` reader.
    case npy
    /// `StreamingPruner(checkpoint:options:)`, the state-directory checkpoint loader.
    case checkpoint
    /// `ConfigFile.parse`, the `--config` TOML reader, and every typed read of its keys.
    case config

    /// Runs one input. Parse errors are the expected outcome for most inputs and
    /// are swallowed; a crash is a bug, and so is a thrown ``FuzzFailure`` (an
    /// invariant that held for the whole input broke for the same input in pieces).
    public func run(_ input: UnsafeRawBufferPointer) throws(FuzzFailure) {
        switch self {
        case .lz4Stream: try LZ4StreamFuzzing.run(input)
        case .prn1, .jsonLines: try RecordFuzzing.run(input)
        case .npy: try NPYFuzzing.run(input)
        case .checkpoint: try CheckpointFuzzing.run(input)
        case .config: ConfigFuzzing.run(input)
        }
    }

    /// Runs one input held in an array (the corpus replay).
    public func run(_ input: [UInt8]) throws(FuzzFailure) {
        try input.withUnsafeBytes { bytes in
            Result { () throws(FuzzFailure) in try run(bytes) }
        }.get()
    }
}

/// An invariant a target checks beyond "does not crash", broken by an input.
public struct FuzzFailure: Error, CustomStringConvertible {
    /// Which invariant, and the values that broke it.
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Splits an input into the pieces a target feeds one by one.
///
/// Why: every decoder here is incremental, and its state between feeds (a
/// partial magic, record, line or frame) is where the subtle bugs live. The
/// first input byte picks the cut pattern, so libFuzzer explores cuts too.
struct Chunking {
    /// 0: one piece; otherwise piece sizes cycle through a pattern derived from it.
    let control: UInt8

    /// Piece lengths for `total` bytes; they sum to `total`.
    func pieces(total: Int) -> [Int] {
        guard control != 0, total > 0 else { return [total] }
        var sizes: [Int] = []
        var left = total
        var step = 0
        while left > 0 {
            // Sizes 1…64 for small controls, larger for large ones, never zero.
            let size = 1 + (Int(control) &* (step &+ 1) &* 7 + step) % (Int(control) < 128 ? 64 : 4096)
            sizes.append(min(size, left))
            left -= min(size, left)
            step += 1
        }
        return sizes
    }

    /// Calls `body` with each piece of `bytes`, in order; stops at the first throw.
    func forEachPiece<E: Error>(
        of bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws(E) -> Void
    ) throws(E) {
        var start = 0
        for size in pieces(total: bytes.count) {
            try body(UnsafeRawBufferPointer(rebasing: bytes[start..<start + size]))
            start += size
        }
    }
}

/// The input without its first (control) byte.
func payload(_ input: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: input.dropFirst())
}
