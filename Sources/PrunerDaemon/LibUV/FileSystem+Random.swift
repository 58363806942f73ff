// Synchronous random-access reads and directory listings through libuv's fs API,
// for matrix inputs: `.npz` directories live at the end of the file, shard
// headers are read up front, and ids/scores files are read beside the matrix.
import CLibUV
#if canImport(Glibc)
import Glibc
#endif

extension FileSystem {
    /// Opens `path` read-only.
    public static func openForReading(_ path: String) throws(UVError) -> Int32 {
        var request = uv_fs_t()
        defer { uv_fs_req_cleanup(&request) }
        let fd = uv_fs_open(nil, &request, path, O_RDONLY | O_CLOEXEC, 0, nil)
        try uvCheck(fd, "open \(path)")
        return fd
    }

    /// Closes a descriptor from `openForReading`.
    public static func close(_ fd: Int32) { closeFile(fd) }

    /// Reads up to `buffer.count` bytes at `offset` (-1: the current position);
    /// returns the count, 0 at end of file. The corresponding C function is `pread`.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String) throws(UVError) -> Int {
        var uvBuffer = uv_buf_init(buffer.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(min(buffer.count, 1 << 30)))
        var request = uv_fs_t()
        defer { uv_fs_req_cleanup(&request) }
        let count = uv_fs_read(nil, &request, fd, &uvBuffer, 1, offset, nil)
        try uvCheck(count, "read \(path)")
        return Int(count)
    }

    /// Exactly `count` bytes at `offset` (fewer at end of file).
    public static func readBytes(_ fd: Int32, count: Int, at offset: UInt64, path: String) throws(UVError) -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        defer { buffer.deallocate() }
        var filled = 0
        while filled < count {
            let got = try read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<count]),
                               at: Int64(offset) + Int64(filled), path: path)
            if got == 0 { break }
            filled += got
        }
        return Array(buffer[0..<filled])
    }

    /// What is at a path, for sorting command-line arguments.
    public enum Kind: Sendable, Equatable {
        case missing
        case directory
        case regularFile(size: UInt64)
        /// A FIFO, a character device, a socket: read as a stream.
        case other
    }

    /// Stats `path` (following symbolic links).
    public static func kind(ofPath path: String) -> Kind {
        var request = uv_fs_t()
        defer { uv_fs_req_cleanup(&request) }
        guard uv_fs_stat(nil, &request, path, nil) == 0 else { return .missing }
        let mode = request.statbuf.st_mode & 0o170000  // S_IFMT (ambiguous in Glibc's overlay)
        if mode == 0o040000 { return .directory }       // S_IFDIR
        if mode == 0o100000 { return .regularFile(size: request.statbuf.st_size) }  // S_IFREG
        return .other
    }

    /// The names in a directory (not `.`/`..`), unsorted.
    public static func listDirectory(_ path: String) throws(UVError) -> [String] {
        var request = uv_fs_t()
        defer { uv_fs_req_cleanup(&request) }
        try uvCheck(uv_fs_scandir(nil, &request, path, 0, nil), "scandir \(path)")
        var names: [String] = []
        var entry = uv_dirent_t()
        while uv_fs_scandir_next(&request, &entry) == 0 {
            names.append(String(cString: entry.name))
        }
        return names
    }
}

extension FileSystem {
    /// Writes all of `bytes` to `fd` (e.g. 1 for stdout), retrying short writes.
    public static func write(_ bytes: [UInt8], to fd: Int32, name: String) throws(UVError) {
        try writeAll(bytes, to: fd, name: name)
    }
}

extension FileSystem {
    /// Creates or truncates `path` for writing.
    public static func openForWriting(_ path: String) throws(UVError) -> Int32 {
        var request = uv_fs_t()
        defer { uv_fs_req_cleanup(&request) }
        let fd = uv_fs_open(nil, &request, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644, nil)
        try uvCheck(fd, "open \(path)")
        return fd
    }
}
