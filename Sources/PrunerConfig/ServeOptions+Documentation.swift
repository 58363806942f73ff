// docs/options.md's table of the options of `prunerd serve`, generated from the
// option table so that the page cannot fall behind it (ServeOptionTableTests
// compares the page with this text, and rewrites it with PRUNERD_WRITE_DOCS=1).

extension ServeOptions {
    /// The line before the generated table in docs/options.md.
    public static let documentationStart = "<!-- generated from ServeOptions (Sources/PrunerConfig/ServeOptions.swift); ServeOptionTableTests checks it -->"
    /// The line after it.
    public static let documentationEnd = "<!-- end of the generated table -->"

    /// The Markdown table: one row per option, in `--check-config`'s order.
    public static var documentationTable: String {
        var lines = ["| option | config key | value | accepts | default | on SIGHUP |", "|---|---|---|---|---|---|"]
        for option in table {
            let key = option.source == .commandLineAndFile ? "`\(option.name)`" : "— (command line only)"
            let accepts = acceptedValues[option.name].map { escaped($0.text) } ?? "—"
            lines.append("| `--\(option.name)` | \(key) | \(option.kind.documentation) | \(accepts) | \(escaped(option.defaultText)) | \(option.reload.documentation) |")
        }
        return lines.joined(separator: "\n")
    }

    /// A cell's text with Markdown's pipes and angle brackets (`<state dir>` is no HTML tag) escaped.
    private static func escaped(_ text: String) -> String {
        text.split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|")
            .split(separator: "<", omittingEmptySubsequences: false).joined(separator: "\\<")
    }
}

extension Reload {
    /// How docs/options.md says what a SIGHUP does.
    public var documentation: String {
        switch self {
        case .live: return "applied"
        case .refused: return "reload refused"
        case .restart: return "needs a restart"
        }
    }
}
