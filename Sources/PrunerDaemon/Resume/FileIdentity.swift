// Which file an input is, for a restart to tell the same file (resume it) from
// one that changed (refuse it): device, inode and size from fstat, and a
// fingerprint of its first 64 KiB and of the 64 KiB ending at that size, so a
// file that only grew since (appended to) still matches.
import CLibUV
import PrunerCore
#if canImport(Glibc)
import Glibc
#endif

/// A file's identity at one moment.
struct FileIdentity: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: UInt64
    var fingerprint: UInt64

    /// Bytes hashed at each end.
    static let window = 64 * 1024

    /// The identity of an open regular file, or nil for anything else (pipes, devices).
    static func of(descriptor fd: Int32) -> FileIdentity? {
        var request = uv_fs_t()
        defer { uv_fs_req_cleanup(&request) }
        guard uv_fs_fstat(nil, &request, fd, nil) == 0, FileKind(mode: request.statbuf.st_mode) == .regular else { return nil }
        let size = request.statbuf.st_size
        guard let fingerprint = fingerprint(of: fd, size: size) else { return nil }
        return FileIdentity(device: request.statbuf.st_dev, inode: request.statbuf.st_ino, size: size, fingerprint: fingerprint)
    }

    /// The identity of the regular file at `path`, or nil when it is none or cannot be read.
    static func of(path: String) -> FileIdentity? {
        var request = uv_fs_t()
        let fd = uv_fs_open(nil, &request, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0, nil)
        uv_fs_req_cleanup(&request)
        guard fd >= 0 else { return nil }
        defer { FileSystem.closeFile(fd) }
        return of(descriptor: fd)
    }

    /// FNV-1a over the first `window` bytes and the `window` bytes ending at `size`
    /// (positioned reads: the descriptor's offset is not moved).
    static func fingerprint(of fd: Int32, size: UInt64) -> UInt64? {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        let head = Int(min(UInt64(window), size))
        let tailStart = size > UInt64(window) ? size - UInt64(window) : 0
        for (offset, count) in [(UInt64(0), head), (tailStart, Int(size - tailStart))] {
            guard let bytes = try? FileSystem.readBytes(fd, count: count, at: offset, path: "fd \(fd)"),
                  bytes.count == count else { return nil }
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        }
        return hash
    }

    /// Why the open file `fd` (identity `now`) is not the one `saved` describes, or nil
    /// when it is: the same bytes up to the saved size (it may have grown since).
    static func change(from saved: ResumePoint.FileInput, to now: FileIdentity, descriptor fd: Int32) -> String? {
        if now.size < saved.size { return "it shrank from \(saved.size) to \(now.size) bytes" }
        guard let same = fingerprint(of: fd, size: saved.size) else { return "its first \(saved.size) bytes cannot be read" }
        if same != saved.fingerprint {
            return "its content differs from the checkpoint's (fingerprint of the first and the last 64 KiB of its first \(saved.size) bytes)"
        }
        return nil
    }
}
