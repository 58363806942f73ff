// The `prunerd` command: subcommands for the daemon (`serve`), the exact batch
// recipe (`offline`) and the streaming-vs-batch fidelity harness (`fidelity`).
import ArgumentParser

@main
struct Prunerd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prunerd",
        abstract: "Prune web-scale embedding data while it streams in (Density-Based Pruning).",
        discussion: """
            prunerd clusters embedding records into concepts online, keeps per-concept \
            statistics, and writes a keep/drop decision for every record to a JSON Lines \
            decision log. See README.md and docs/wire-format.md.
            """,
        version: PrunerdVersion.description,
        subcommands: [ServeCommand.self, OfflineCommand.self, FidelityCommand.self, StatusCommand.self,
                      EncodeCommand.self, DecodeCommand.self, KeptCommand.self, ReportCommand.self],
        defaultSubcommand: nil
    )
}

/// What `prunerd --version` prints.
enum PrunerdVersion {
    /// The release; the wire format's version is printed beside it because that is what producers must match.
    static let release = "0.15.0"
    static let description = "prunerd \(release) (PRN1 wire format version 1)"
}
