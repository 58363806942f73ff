// What a file or stream looks like from its first bytes, so that an input
// prunerd cannot read is named ("a Parquet file", "gzip-compressed data") with
// what to do about it, instead of "unknown first byte".

/// The kind of content recognised from a stream's first bytes.
public enum ContentKind: Sendable, Equatable {
    case lz4
    case prn1
    case jsonLines
    case npy
    /// A zip archive: an `.npz` when it holds `.npy` members.
    case zip
    case parquet
    case gzip
    case zstd
    case bzip2
    case xz
    case hdf5
    /// Printable text that is not a JSON object per line.
    case text
    case empty
    case unknown(firstByte: UInt8)

    /// Recognises `prefix` (the first few bytes; 8 are plenty).
    public init(prefix: UnsafeRawBufferPointer) {
        func starts(_ magic: [UInt8]) -> Bool {
            prefix.count >= magic.count && magic.indices.allSatisfy { prefix[$0] == magic[$0] }
        }
        guard let first = prefix.first else {
            self = .empty
            return
        }
        if starts([0x04, 0x22, 0x4D, 0x18]) || (prefix.count >= 4 && first & 0xF0 == 0x50 && starts([first, 0x2A, 0x4D, 0x18])) {
            self = .lz4
        } else if starts(Array("PRN1".utf8)) {
            self = .prn1
        } else if starts(NPYHeader.magic) {
            self = .npy
        } else if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) {
            self = .zip
        } else if starts(Array("PAR1".utf8)) {
            self = .parquet
        } else if starts([0x1F, 0x8B]) {
            self = .gzip
        } else if starts([0x28, 0xB5, 0x2F, 0xFD]) {
            self = .zstd
        } else if starts(Array("BZh".utf8)) {
            self = .bzip2
        } else if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) {
            self = .xz
        } else if starts([0x89, 0x48, 0x44, 0x46]) {
            self = .hdf5
        } else if let firstText = prefix.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) {
            if firstText == UInt8(ascii: "{") {
                self = .jsonLines
            } else if prefix.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || $0 >= 0x80 }) {
                self = .text
            } else {
                self = .unknown(firstByte: first)
            }
        } else {
            self = .empty
        }
    }

    /// What the content is, in a few words.
    public var name: String {
        switch self {
        case .lz4: return "LZ4 frames"
        case .prn1: return "PRN1 records"
        case .jsonLines: return "JSON Lines"
        case .npy: return "a numpy .npy array"
        case .zip: return "a zip archive (PK; an .npz?)"
        case .parquet: return "a Parquet file (PAR1)"
        case .gzip: return "gzip-compressed data (1f 8b)"
        case .zstd: return "zstd-compressed data (28 b5 2f fd)"
        case .bzip2: return "bzip2-compressed data (BZh)"
        case .xz: return "xz-compressed data (fd 37 7a 58 5a)"
        case .hdf5: return "an HDF5 file (89 HDF)"
        case .text: return "text that is not JSON Lines"
        case .empty: return "empty"
        case .unknown(let byte): return "unrecognised data (first byte 0x\(hexByte(byte)))"
        }
    }

    /// Why a stream of this kind cannot be decoded as records, and what to do.
    public var unreadableReason: String {
        let accepted = "prunerd reads PRN1 or JSON Lines records (raw or LZ4), .npy and .npz"
        switch self {
        case .parquet:
            return "this is \(name), which prunerd does not read: \(accepted). Export the ids to a text file and pass "
                + "the embeddings' .npy with --ids (the Python client's prunerd.read_clip_retrieval and "
                + "prunerd.read_datacomp read parquet), see docs/inputs.md"
        case .gzip, .zstd, .bzip2, .xz:
            return "this is \(name): decompress it first (e.g. `zcat FILE | prunerd serve -`), or recompress with lz4, "
                + "which prunerd reads directly"
        case .zip:
            return "this is \(name): an .npz is read when given as a file path (its directory is at the end), "
                + "not through a pipe or socket"
        case .hdf5:
            return "this is \(name): \(accepted); save the embeddings with numpy.save"
        case .text:
            return "this is \(name) (a JSON Lines record starts with '{'): \(accepted); "
                + "an ids file goes with --ids next to the .npy, see docs/inputs.md"
        case .unknown, .empty, .lz4, .prn1, .jsonLines, .npy:
            return "unknown record encoding: \(name); \(accepted), see docs/wire-format.md"
        }
    }
}
