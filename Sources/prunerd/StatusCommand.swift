// `prunerd status`: asks a running daemon for its figures over the control socket.
import ArgumentParser
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
        let path = control ?? defaultControlPath()
        do {
            print(try ControlClient.request("status\n", socketPath: path), terminator: "")
        } catch {
            throw ValidationError("no daemon answers on \(path): \(error)")
        }
    }

    private func defaultControlPath() -> String {
        if let runtime = DefaultPaths.environment("RUNTIME_DIRECTORY")?.split(separator: ":").first {
            return runtime + "/control.sock"
        }
        // The packaged unit's RuntimeDirectory=prunerd/control (see systemd/prunerd.service).
        for path in ["/run/prunerd/control/control.sock", "/run/prunerd/control.sock"] where FileSystem.fileExists(atPath: path) {
            return path
        }
        return (stateDirectory ?? DefaultPaths.stateDirectory()) + "/control.sock"
    }
}
