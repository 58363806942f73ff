// Synchronous whole-file operations through libuv's fs API (uv_fs_* with no
// callback runs on the calling thread). Used for small files at start and stop
// (centroids, checkpoints) and by the command line; streaming reads are async.
import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads and crash-safe writes via libuv.
public enum FileSystem {
    /// Reads a whole file.
    public static func readFile(atPath path: String) throws(UVError) -> [UInt8] {
        var request = uv_fs_t()
        defer { uv_fs_req_cleanup(&request) }
        let fd = uv_fs_open(nil, &request, path, O_RDONLY | O_CLOEXEC, 0, nil)
        try uvCheck(fd, "open \(path)")
        defer { closeFile(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { raw -> Int in
                var buffer = uv_buf_init(raw.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(raw.count))
                var readRequest = uv_fs_t()
                defer { uv_fs_req_cleanup(&readRequest) }
                return Int(uv_fs_read(nil, &readRequest, fd, &buffer, 1, -1, nil))
            }
            try uvCheck(Int32(clamping: count), "read \(path)")
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    /// Writes `bytes` so that a crash leaves either the old file or the new one:
    /// write a temporary file, fsync it, rename it over `path`, fsync the directory.
    public static func writeFileAtomically(_ bytes: [UInt8], toPath path: String) throws(UVError) {
        try writeFileAtomically(parts: [bytes], toPath: path)
    }

    /// `writeFileAtomically(_:toPath:)` for a file given in parts, written one after the
    /// other (a large part is then not copied into one array first).
    public static func writeFileAtomically(parts: [[UInt8]], toPath path: String) throws(UVError) {
        let temporary = path + ".tmp"
        var request = uv_fs_t()
        let fd = uv_fs_open(nil, &request, temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640, nil)
        uv_fs_req_cleanup(&request)
        try uvCheck(fd, "open \(temporary)")
        do throws(UVError) {
            for part in parts { try writeAll(part, to: fd, name: temporary) }
            var sync = uv_fs_t()
            let status = uv_fs_fsync(nil, &sync, fd, nil)
            uv_fs_req_cleanup(&sync)
            try uvCheck(status, "fsync \(temporary)")
        } catch {
            closeFile(fd)
            throw error
        }
        closeFile(fd)
        var rename = uv_fs_t()
        let renamed = uv_fs_rename(nil, &rename, temporary, path, nil)
        uv_fs_req_cleanup(&rename)
        try uvCheck(renamed, "rename \(temporary) → \(path)")
        try syncDirectory(containing: path)
    }

    /// Flushes an open file to disk, then reads its device, inode and size
    /// (the corresponding C functions are `fsync` and `fstat`).
    static func syncAndStat(_ fd: Int32, name: String) throws(UVError) -> (device: UInt64, inode: UInt64, size: UInt64) {
        var sync = uv_fs_t()
        let status = uv_fs_fsync(nil, &sync, fd, nil)
        uv_fs_req_cleanup(&sync)
        try uvCheck(status, "fsync \(name)")
        var stat = uv_fs_t()
        defer { uv_fs_req_cleanup(&stat) }
        try uvCheck(uv_fs_fstat(nil, &stat, fd, nil), "fstat \(name)")
        return (stat.statbuf.st_dev, stat.statbuf.st_ino, stat.statbuf.st_size)
    }

    /// Creates `path` and its missing parents (like `mkdir -p`).
    public static func createDirectory(atPath path: String, mode: Int32 = 0o750) throws(UVError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            var request = uv_fs_t()
            let status = uv_fs_mkdir(nil, &request, prefix, mode, nil)
            uv_fs_req_cleanup(&request)
            if status < 0 && status != UV_EEXIST.rawValue { throw UVError(code: status, operation: "mkdir \(prefix)") }
            prefix += "/"
        }
    }

    /// Whether a file exists at `path`.
    public static func fileExists(atPath path: String) -> Bool {
        var request = uv_fs_t()
        defer { uv_fs_req_cleanup(&request) }
        return uv_fs_stat(nil, &request, path, nil) == 0
    }

    /// Removes a file, ignoring a missing one.
    public static func removeFile(atPath path: String) {
        var request = uv_fs_t()
        uv_fs_unlink(nil, &request, path, nil)
        uv_fs_req_cleanup(&request)
    }

    static func writeAll(_ bytes: [UInt8], to fd: Int32, name: String) throws(UVError) {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { raw -> Int in
                var buffer = uv_buf_init(
                    UnsafeMutablePointer(mutating: raw.baseAddress!.advanced(by: written).assumingMemoryBound(to: CChar.self)),
                    UInt32(min(raw.count - written, 1 << 30)))
                var request = uv_fs_t()
                defer { uv_fs_req_cleanup(&request) }
                return Int(uv_fs_write(nil, &request, fd, &buffer, 1, -1, nil))
            }
            try uvCheck(Int32(clamping: count), "write \(name)")
            written += count
        }
    }

    static func closeFile(_ fd: Int32) {
        var request = uv_fs_t()
        uv_fs_close(nil, &request, fd, nil)
        uv_fs_req_cleanup(&request)
    }

    private static func syncDirectory(containing path: String) throws(UVError) {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        var request = uv_fs_t()
        let fd = uv_fs_open(nil, &request, directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, nil)
        uv_fs_req_cleanup(&request)
        try uvCheck(fd, "open directory \(directory)")
        defer { closeFile(fd) }
        var sync = uv_fs_t()
        let status = uv_fs_fsync(nil, &sync, fd, nil)
        uv_fs_req_cleanup(&sync)
        try uvCheck(status, "fsync directory \(directory)")
    }
}

extension FileSystem {
    /// Renames a file (atomic within a file system).
    public static func rename(_ source: String, to destination: String) throws(UVError) {
        var request = uv_fs_t()
        let status = uv_fs_rename(nil, &request, source, destination, nil)
        uv_fs_req_cleanup(&request)
        try uvCheck(status, "rename \(source) → \(destination)")
    }
}

/// What an asynchronous file read (`EventLoop.startRead`) reports back to, on the loop thread.
protocol FileReadCompletion: AnyObject {
    /// Bytes read, 0 at end of file, or a negative libuv error code.
    func didRead(result: Int)
}

extension EventLoop {
    /// Starts reading up to `buffer.count` bytes of `fd` at `offset` (-1: the
    /// descriptor's position) into `buffer`, which must outlive the read; `reader`
    /// is kept alive until its `didRead` has run. The corresponding C function is
    /// `uv_fs_read`. Why here: the request's lifetime rules live in one place.
    ///
    /// - Returns: 0, or the libuv error that kept the read from starting (then `didRead` never runs).
    func startRead(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64,
                   for reader: FileReadCompletion) -> Int32 {
        let request = UVRequest<uv_fs_t>.make(context: reader)
        var uvBuffer = uv_buf_init(buffer.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(buffer.count))
        let status = uv_fs_read(loop, request, fd, &uvBuffer, 1, offset) { request in
            let result = request!.pointee.result
            uv_fs_req_cleanup(request)
            let reader = UVRequest<uv_fs_t>.complete(request, as: AnyObject.self) as! FileReadCompletion
            reader.didRead(result: result)
        }
        if status != 0 { UVRequest<uv_fs_t>.abandon(request) }
        return status
    }
}
