// One daemon per state directory: its checkpoint and its control socket belong
// to one decision log. flock(2) on a file in the directory, held until the process ends.
#if canImport(Glibc)
import Glibc
#endif

extension StartPreparation {
    /// The lock file's name inside the state directory.
    public static let lockFileName = "lock"

    /// Takes the state directory for this process, or refuses to start.
    ///
    /// Two daemons given one state directory (shards on one machine without their own
    /// `--state-dir`, a `prunerd serve` beside the service) overwrite each other's checkpoint,
    /// and the next start resumes one decision log from the other's; their control sockets
    /// replace each other too. The lock is `flock` on `lock` in the directory: the kernel
    /// drops it when the process ends, however it ends (SIGKILL included), so a lock file left
    /// behind never blocks a restart. The descriptor stays open for the life of the process.
    /// The file holds the holder's pid, for the refusal to name it. Where the filesystem has no
    /// `flock` (some network filesystems), the directory is used unlocked.
    /// - Throws: `StartError.stateDirectoryInUse` while another process holds it;
    ///   `StartError.system` when the lock file cannot be opened.
    public static func lockStateDirectory(_ directory: String) throws(StartError) {
        let path = directory + "/" + lockFileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .system("state directory \(directory): cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let held = errno == EWOULDBLOCK
            var bytes = [UInt8](repeating: 0, count: 32)
            let count = held ? read(fd, &bytes, bytes.count) : 0
            close(fd)
            guard held else { return }
            let holder = String(decoding: bytes.prefix(max(count, 0)), as: UTF8.self).split(separator: "\n").first.map(String.init)
            throw .stateDirectoryInUse(directory: directory, holder: holder ?? "")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
    }
}
