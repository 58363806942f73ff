// `prunerd report SOURCE -o FILE.html`: a self-contained HTML picture of the
// concepts (the paper's d_intra/d_inter view), quotas, and keep ratio and
// rejects over time, from a running daemon, a state directory or a checkpoint.
import ArgumentParser
import PrunerCore
import PrunerDaemon
#if canImport(Glibc)
import Glibc
#endif

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report (inline SVG, no network) of the concepts, quotas and keep ratio.",
        discussion: """
            SOURCE is a running daemon's control socket (a socket file, or unix:PATH), a state \
            directory (its control.sock if a daemon answers there, else its checkpoint.prnckpt), \
            or a checkpoint file. A daemon's status carries a time series of its totals; for a \
            checkpoint, --decisions LOG gives one. Example ids per concept come from the decision \
            log: the daemon's own (as its status names it), the state directory's decisions.jsonl, \
            or --decisions. The page has no script and fetches nothing: mail it, open it offline. \
            See docs/report.md.
            """)

    @Argument(help: "A control socket, a state directory, or a checkpoint file.")
    var source: String

    @Option(name: [.customShort("o"), .customLong("output")], help: "The HTML file to write (- for stdout).")
    var output: String

    @Option(name: .customLong("decisions"),
            help: "A decision log for example ids and, when the source has none, the time series (default: the daemon's or the state directory's log, if readable).")
    var decisions: String?

    @Option(name: .customLong("examples"), help: "Example ids shown per concept, kept and dropped each (3 fit on a table row).")
    var examples = 3

    @Option(name: .customLong("top"), help: "Concepts listed in the table of largest concepts (12 fit on a screen).")
    var top = 12

    func validate() throws {
        guard (0...20).contains(examples) else { throw ValidationError("--examples must be 0…20, got \(examples)") }
        guard top >= 1 else { throw ValidationError("--top must be at least 1, got \(top)") }
    }

    func run() throws {
        let now = Self.millisecondsNow()
        var (data, defaultLog) = try load(now: now)
        let logPath = decisions ?? defaultLog.flatMap { FileSystem.fileExists(atPath: $0) ? $0 : nil }
        if let logPath {
            let wantTimeline = data.timeline.isEmpty
            let scan: DecisionLogScan
            do { scan = try DecisionLogScan.scan(path: logPath, examples: examples, timeline: wantTimeline) } catch {
                throw ValidationError("\(error)")
            }
            for index in data.concepts.indices {
                data.concepts[index].keptExamples = scan.kept[data.concepts[index].cluster] ?? []
                data.concepts[index].droppedExamples = scan.dropped[data.concepts[index].cluster] ?? []
            }
            data.examplesCaption = "Example ids are the latest decided in each concept, from \(logPath)."
            if wantTimeline, !scan.counter.buckets.isEmpty {
                data.timeline = scan.counter.intervals
                let start = scan.firstTimestamp.map { ReportFormat.utc(millisecondsSinceEpoch: $0) } ?? "?"
                data.timelineCaption = "From the decision log \(logPath): \(ReportFormat.grouped(scan.lines)) decisions from \(start), in intervals of \(ReportSource.duration(Double(scan.counter.width) / 1000))."
            }
            if scan.malformed > 0 { data.notes.append("\(scan.malformed) lines of \(logPath) are not decision lines and were skipped.") }
        } else if examples > 0 {
            data.notes.append("No decision log was found, so no example ids: pass --decisions LOG.")
        }
        let html = ReportPage.html(data, topConcepts: top)
        if output == "-" {
            print(html, terminator: "")
        } else {
            do { try FileSystem.writeFileAtomically(Array(html.utf8), toPath: output) } catch {
                throw ValidationError("cannot write \(output): \(error)")
            }
            printToStandardError("report: \(output) (\(data.concepts.count) concepts, \(ReportFormat.grouped(data.records)) records, from the \(data.sourceDescription))\n")
        }
    }

    /// The figures, and the decision log to take examples from unless --decisions says otherwise.
    private func load(now: Int64) throws -> (ReportData, String?) {
        let path = source.hasPrefix("unix:") ? String(source.dropFirst(5)) : source
        switch Self.kind(ofPath: path) {
        case .socket:
            return try fromDaemon(socket: path, now: now)
        case .directory:
            let socket = path + "/control.sock", checkpoint = path + "/checkpoint.prnckpt"
            if Self.kind(ofPath: socket) == .socket, let live = try? fromDaemon(socket: socket, now: now) {
                return live
            }
            guard FileSystem.fileExists(atPath: checkpoint) else {
                throw ValidationError("\(path) is a directory with neither a daemon answering on control.sock nor a checkpoint.prnckpt")
            }
            return (try ReportSource.fromCheckpoint(atPath: checkpoint, now: now), path + "/decisions.jsonl")
        case .file:
            do { return (try ReportSource.fromCheckpoint(atPath: path, now: now), nil) } catch {
                throw ValidationError("\(error) — SOURCE must be a control socket, a state directory or a checkpoint file")
            }
        case .missing:
            throw ValidationError("\(path): no such file, directory or socket (SOURCE: a control socket, a state directory or a checkpoint)")
        }
    }

    private func fromDaemon(socket: String, now: Int64) throws -> (ReportData, String?) {
        let text: String
        do { text = try ControlClient.request("status\n", socketPath: socket) } catch {
            throw ValidationError("no daemon answers on \(socket): \(error)")
        }
        let data = try ReportSource.fromStatus(text, socketPath: socket, now: now)
        let log = (try? JSONParser.parse(text))?["decision_log"]?.string
        return (data, log == "-" ? nil : log)
    }

    enum PathKind { case socket, directory, file, missing }

    static func kind(ofPath path: String) -> PathKind {
        var status = stat()
        guard stat(path, &status) == 0 else { return .missing }
        switch status.st_mode & S_IFMT {
        case S_IFSOCK: return .socket
        case S_IFDIR: return .directory
        default: return .file
        }
    }

    static func millisecondsNow() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec / 1_000_000)
    }
}
