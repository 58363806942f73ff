// What kind of file a path or descriptor is (stat's file type), so that each
// kind is read the way it can be, and the others are refused with their name
// instead of reaching a libuv call that aborts on them.
import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// The file type from `stat(2)`'s `st_mode`.
enum FileKind: Equatable {
    case regular, directory, fifo, socket, characterDevice, blockDevice, symbolicLink, unknown

    /// The kind of `path`, following symbolic links (the corresponding C function is `stat`).
    static func of(path: String) throws(UVError) -> FileKind {
        var request = uv_fs_t()
        defer { uv_fs_req_cleanup(&request) }
        try uvCheck(uv_fs_stat(nil, &request, path, nil), "stat \(path)")
        return FileKind(mode: request.statbuf.st_mode)
    }

    /// The kind of an open descriptor (the corresponding C function is `fstat`).
    static func of(descriptor fd: Int32) throws(UVError) -> FileKind {
        var request = uv_fs_t()
        defer { uv_fs_req_cleanup(&request) }
        try uvCheck(uv_fs_fstat(nil, &request, fd, nil), "fstat \(fd)")
        return FileKind(mode: request.statbuf.st_mode)
    }

    /// From `st_mode`; the type bits are POSIX's (`S_IFMT` is ambiguous between Glibc's modules).
    init(mode: UInt64) {
        switch mode & 0o170000 {
        case 0o100000: self = .regular
        case 0o040000: self = .directory
        case 0o010000: self = .fifo
        case 0o140000: self = .socket
        case 0o020000: self = .characterDevice
        case 0o060000: self = .blockDevice
        case 0o120000: self = .symbolicLink
        default: self = .unknown
        }
    }

    /// Why an input of this kind cannot be opened.
    func openError(path: String) -> InputOpenError {
        switch self {
        case .directory: return .isDirectory(path: path)
        case .socket: return .isSocket(path: path)
        case .symbolicLink: return .unsupportedKind(path: path, kind: "symbolic link")
        default: return .unsupportedKind(path: path, kind: "file of unknown type")
        }
    }
}
