// `prunerd status`: asks a running daemon for its figures over the control socket.
import ArgumentParser
import PrunerConfig
import PrunerDaemon

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print a running daemon's status as JSON (totals, rates, rejects, per-concept table, checkpoint age).")

    @Option(name: .customLong("control"),
            help: "The daemon's control socket. Default: $RUNTIME_DIRECTORY/control.sock, else /run/prunerd/control/control.sock if present, else <state dir>/control.sock.")
    var control: String?

    @Option(name: .customLong("state-dir"), help: "The daemon's state directory (to find its control socket).")
    var stateDirectory: String?

    func run() throws {
        let (path, looked) = control.map { ($0, ["--control \($0)"]) } ?? defaultControlPath()
        do {
            print(try ControlClient.request("status\n", socketPath: path), terminator: "")
        } catch {
            throw RunError("""
                no daemon answers on \(path): \(error)
                looked at: \(looked.joined(separator: "; "))
                A daemon listens there only while `prunerd serve` runs with --listen (or under systemd). Point at \
                another with --control PATH (its --control socket) or --state-dir DIR (its state directory, \
                which holds control.sock), or set RUNTIME_DIRECTORY.
                """)
        }
    }

    /// The socket to ask, and every place considered, in order, with why it was or was not taken.
    private func defaultControlPath() -> (String, [String]) {
        var looked: [String] = []
        let environment = SettingsEnvironment.current()
        if let runtime = environment.runtimeDirectory {
            return (runtime + "/control.sock", ["$RUNTIME_DIRECTORY/control.sock = \(runtime)/control.sock"])
        }
        looked.append("$RUNTIME_DIRECTORY (unset)")
        if stateDirectory == nil {
            // The packaged unit's RuntimeDirectory=prunerd/control (see systemd/prunerd.service).
            for path in ["/run/prunerd/control/control.sock", "/run/prunerd/control.sock"] {
                if FileSystem.fileExists(atPath: path) { return (path, looked + [path]) }
                looked.append("\(path) (absent)")
            }
        }
        let directory = stateDirectory.map { "--state-dir \($0)" } ?? "the default state directory \(environment.stateDirectory)"
        let path = (stateDirectory ?? environment.stateDirectory) + "/control.sock"
        return (path, looked + ["control.sock in \(directory)"])
    }
}
