// What is checked and done before the daemon starts, so that a restart is
// exactly-once for file inputs and a mistaken start cannot spoil a decision
// log: the log's directory must exist (it is never created), a log that
// already holds lines is only extended or replaced when asked, and a resume
// point's inputs must be the same files, its log cut back to its length.
import CLibUV
import PrunerCore
#if canImport(Glibc)
import Glibc
#endif

/// What to do with a decision log that already holds lines when there is no
/// checkpoint to resume from (`--append`, `--overwrite`).
public enum ExistingLogChoice: Sendable, Equatable {
    /// Refuse to start: a second run's lines would silently join the first's.
    case refuse
    /// Keep adding to it.
    case append
    /// Start it anew (truncate to zero).
    case overwrite
}

/// Why the daemon did not start. Each case names the file and the way out.
public enum StartError: Error, CustomStringConvertible, Equatable {
    case logDirectoryMissing(log: String, directory: String)
    case logDirectoryNotDirectory(log: String, directory: String)
    case logIsDirectory(String)
    /// `noResume` says why no checkpoint was resumed from (`StartPreparation.noCheckpoint` when there was none).
    case logNotEmpty(log: String, bytes: UInt64, noResume: String)
    case inputChanged(input: String, reason: String)
    /// Another process holds the state directory's lock; `holder` is the pid it wrote (or empty).
    case stateDirectoryInUse(directory: String, holder: String)
    case system(String)

    public var description: String {
        switch self {
        case .logDirectoryMissing(let log, let directory):
            return "decision log \(log): directory \(directory) does not exist (prunerd does not create it; "
                + "create it, or choose another --decisions path)"
        case .logDirectoryNotDirectory(let log, let directory):
            return "decision log \(log): \(directory) is not a directory"
        case .logIsDirectory(let log):
            return "decision log \(log) is a directory; --decisions takes a file path or - for stdout"
        case .logNotEmpty(let log, let bytes, let noResume):
            return "decision log \(log) already holds \(bytes) bytes of decisions and \(noResume): "
                + "pass --append to keep adding to it, or --overwrite to start it anew"
        case .inputChanged(let input, let reason):
            return "input \(input) changed since the checkpoint: \(reason); not resuming it blindly. "
                + "Restore the original file, or start anew with --fresh (with --overwrite or --append for the decision log)"
        case .stateDirectoryInUse(let directory, let holder):
            return "state directory \(directory) is in use by another prunerd" + (holder.isEmpty ? "" : " (pid \(holder))")
                + ": its checkpoint and control socket belong to that daemon; give each daemon its own --state-dir"
        case .system(let message):
            return message
        }
    }
}

/// The outcome of the checks: where each resumed input starts, and what to tell the operator.
public struct StartPlan: Sendable {
    /// Records to skip per input name (`file:/abs/path`, `stdin`): they reached the engine before the checkpoint.
    public var skips: [String: UInt64] = [:]
    /// Lines for the daemon log (info).
    public var notices: [String] = []
    /// Lines for the daemon log (warning).
    public var warnings: [String] = []
    /// Per source name: `seq`s whose lines survived the cut (connections' records decided
    /// after the checkpoint). The restored engine may still hold them; their second line is not written.
    public var alreadyLogged: [String: Set<UInt64>] = [:]
    /// The highest connection number in the log's lines after the checkpoint: new connections are numbered on from it.
    public var connectionsBefore = 0

    public init() {}
}

public enum StartPreparation {
    /// Why nothing was resumed when there simply was no checkpoint (the refusal's plain case).
    public static let noCheckpoint = "there is no checkpoint to resume from"

    /// Checks that the decision log can be created where it is asked for, without creating directories.
    public static func checkLogLocation(_ path: String) throws(StartError) {
        guard path != "-" else { return }
        if (try? FileKind.of(path: path)) == .directory { throw .logIsDirectory(path) }
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        guard let kind = try? FileKind.of(path: directory) else {
            throw .logDirectoryMissing(log: path, directory: directory)
        }
        if kind != .directory { throw .logDirectoryNotDirectory(log: path, directory: directory) }
    }

    /// Checks the inputs against the resume point, then cuts the decision log back to the
    /// resume point's length (or applies `existingLog` when there is no resume point).
    ///
    /// - Parameters:
    ///   - resume: the restored resume point, or nil (fresh start, or a bare engine checkpoint).
    ///   - restoredEngine: whether an engine state was restored (a bare engine checkpoint: the log is appended to, as before resume points).
    ///   - matrixShards: the shards of the `.npy`/`.npz` input, each resumed like a file (its `seq` is the row).
    ///   - noResume: why nothing was resumed, for the refusal of a log that holds lines (a checkpoint that
    ///     did not restore, or checkpoints off for this run, is a different way out than none at all).
    public static func prepare(resume: ResumePoint?, restoredEngine: Bool, inputs: [String], matrixShards: [MatrixShard] = [],
                               decisionsPath: String, existingLog: ExistingLogChoice,
                               noResume: String = noCheckpoint) throws(StartError) -> StartPlan {
        var plan = StartPlan()
        if let resume { try planInputs(resume, inputs: inputs, matrixShards: matrixShards, into: &plan) }
        guard decisionsPath != "-" else {
            if resume != nil {
                plan.warnings.append("decisions go to stdout, which cannot be cut back: lines written after the checkpoint appear again")
            }
            return plan
        }
        let current = logState(decisionsPath)
        if let mark = resume?.log, let current, current.device == mark.device, current.inode == mark.inode {
            if current.size > mark.length {
                // The inputs read again are the command line's; lines of connections and pipes stay.
                let reread = Set(inputs.map { InputOpener.inputName(forPath: $0) } + matrixShards.map(\.sourceName))
                let outcome: LogTail.Outcome
                do throws(UVError) {
                    let held = (resume?.sources ?? []).map(\.name).filter { !reread.contains($0) }
                    outcome = try LogTail.cut(decisionsPath, after: mark.length, rereadSources: reread, heldSources: held)
                } catch {
                    throw .system("decision log \(decisionsPath): cannot cut it back to the checkpoint's \(mark.length) bytes: \(error)")
                }
                var notice = "decision log \(decisionsPath) cut back from \(current.size) to \(outcome.newLength) bytes: "
                    + "\(outcome.removedLines) lines of inputs read again after the checkpoint removed (decided again, identically)"
                if outcome.keptLines > 0 { notice += ", \(outcome.keptLines) lines of connections kept (nobody sends those records again)" }
                if outcome.tornBytes > 0 { notice += ", a torn last line of \(outcome.tornBytes) bytes removed" }
                plan.notices.append(notice)
                plan.alreadyLogged = outcome.keptSeqs
                plan.connectionsBefore = outcome.highestConnection
            } else if current.size < mark.length {
                plan.warnings.append("decision log \(decisionsPath) is shorter (\(current.size) bytes) than at the checkpoint "
                    + "(\(mark.length) bytes): truncated or rotated in place since; appending")
            }
            return plan
        }
        if resume != nil || restoredEngine {
            if resume?.log != nil, current != nil {
                plan.notices.append("decision log \(decisionsPath) is not the file the checkpoint wrote to (rotated, or a new path): appending")
            }
            return plan
        }
        guard let current, current.size > 0 else { return plan }
        switch existingLog {
        case .refuse: throw .logNotEmpty(log: decisionsPath, bytes: current.size, noResume: noResume)
        case .append: plan.notices.append("appending to decision log \(decisionsPath) (\(current.size) bytes already)")
        case .overwrite:
            try truncate(decisionsPath, to: 0)
            plan.notices.append("decision log \(decisionsPath) started anew (\(current.size) bytes removed)")
        }
        return plan
    }

    private static func planInputs(_ resume: ResumePoint, inputs: [String], matrixShards: [MatrixShard],
                                   into plan: inout StartPlan) throws(StartError) {
        var given = Set<String>()
        for shard in matrixShards {
            given.insert(shard.sourceName)
            // The shard's own entry only (the members of one .npz share the file's identity).
            guard let saved = resume.files.first(where: { $0.name == shard.sourceName }) else { continue }
            var request = uv_fs_t()
            let fd = uv_fs_open(nil, &request, shard.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0, nil)
            uv_fs_req_cleanup(&request)
            guard fd >= 0 else { continue }
            defer { FileSystem.closeFile(fd) }
            guard let now = FileIdentity.of(descriptor: fd) else {
                throw .inputChanged(input: shard.sourceName, reason: "it is no longer a regular file")
            }
            if let reason = FileIdentity.change(from: saved, to: now, descriptor: fd) {
                throw .inputChanged(input: shard.sourceName, reason: reason)
            }
            plan.skips[shard.sourceName] = saved.records
            plan.notices.append("input \(shard.sourceName) resumes after record \(saved.records) (row \(saved.records) of "
                + "\(shard.header.rows), the checkpoint's position)")
        }
        for path in inputs {
            let name = InputOpener.inputName(forPath: path)
            given.insert(name)
            // Only regular files have an identity to check; anything else is not opened here:
            // a FIFO's writer would pair with this check's short-lived reader and lose what it
            // writes (or block the daemon's own open, waiting for a writer that already left).
            if path != "-", let kind = try? FileKind.of(path: path), kind != .regular {
                if resume.files.contains(where: { $0.name == name }) {
                    throw .inputChanged(input: name, reason: "it is no longer a regular file")
                }
                continue
            }
            var request = uv_fs_t()
            let fd: Int32
            if path == "-" {
                fd = 0
            } else {
                fd = uv_fs_open(nil, &request, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0, nil)
                uv_fs_req_cleanup(&request)
            }
            defer { if fd > 0 { FileSystem.closeFile(fd) } }
            // An input that cannot be opened now fails, with its reason, when the daemon opens it.
            guard fd >= 0 else { continue }
            let now = FileIdentity.of(descriptor: fd)
            let saved = resume.files.first { $0.name == name }
                ?? now.flatMap { now in resume.files.first { $0.device == now.device && $0.inode == now.inode } }
            guard let saved else { continue }
            guard let now else {
                throw .inputChanged(input: name, reason: "it is no longer a regular file")
            }
            if let reason = FileIdentity.change(from: saved, to: now, descriptor: fd) {
                throw .inputChanged(input: name, reason: reason)
            }
            if now.device != saved.device || now.inode != saved.inode {
                plan.notices.append("input \(name) is another file than at the checkpoint but holds the same bytes: resuming it")
            }
            plan.skips[name] = saved.records
            plan.notices.append("input \(name) resumes after record \(saved.records) (the checkpoint's position)")
        }
        for saved in resume.files where !given.contains(saved.name) && plan.skips[saved.name] == nil {
            plan.warnings.append("input \(saved.name) of the checkpoint is not given: its records after \(saved.records) are not read")
        }
    }

    private struct LogState { var device: UInt64; var inode: UInt64; var size: UInt64 }

    private static func logState(_ path: String) -> LogState? {
        var request = uv_fs_t()
        defer { uv_fs_req_cleanup(&request) }
        guard uv_fs_stat(nil, &request, path, nil) == 0 else { return nil }
        return LogState(device: request.statbuf.st_dev, inode: request.statbuf.st_ino, size: request.statbuf.st_size)
    }

    private static func truncate(_ path: String, to length: UInt64) throws(StartError) {
        var request = uv_fs_t()
        let fd = uv_fs_open(nil, &request, path, O_WRONLY | O_CLOEXEC, 0, nil)
        uv_fs_req_cleanup(&request)
        guard fd >= 0 else { throw .system("decision log \(path): \(UVError(code: fd, operation: "open").reason)") }
        defer { FileSystem.closeFile(fd) }
        var truncation = uv_fs_t()
        let status = uv_fs_ftruncate(nil, &truncation, fd, Int64(length), nil)
        uv_fs_req_cleanup(&truncation)
        var sync = uv_fs_t()
        let synced = uv_fs_fsync(nil, &sync, fd, nil)
        uv_fs_req_cleanup(&sync)
        guard status == 0, synced == 0 else {
            throw .system("decision log \(path): cannot cut it back to \(length) bytes: \(UVError(code: status != 0 ? status : synced, operation: "ftruncate").reason)")
        }
    }
}
