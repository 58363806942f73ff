// The option table (ServeOptions) is the one list of serve's options: the
// command line's @Options, the config file's keys, docs/options.md and the
// [live]/[restart] marks of systemd/prunerd.toml are held to it here
// (CheckConfigTests holds --check-config to it).
import Foundation
import PrunerConfig
import Testing

@Suite("serve's option table")
struct ServeOptionTableTests {
    @Test("every option of `prunerd serve` has a row in the table, and every row an option")
    func commandLineMatchesTable() throws {
        let result = try runProcess(TestPaths.prunerd, ["serve", "--experimental-dump-help"])
        try #require(result.status == 0, "\(result.stderr)")
        let info = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
        let command = try #require(info["command"] as? [String: Any])
        let arguments = try #require(command["arguments"] as? [[String: Any]])
        let longNames = Set(arguments.compactMap { argument -> String? in
            guard argument["kind"] as? String != "positional" else { return nil }
            let names = argument["names"] as? [[String: Any]] ?? []
            return names.first { $0["kind"] as? String == "long" }?["name"] as? String
        }).subtracting(["help", "version"])
        let rows = Set(ServeOptions.table.map(\.name))
        #expect(longNames.subtracting(rows).sorted() == [], "options without a row in ServeOptions")
        #expect(rows.subtracting(longNames).sorted() == [], "rows of ServeOptions that prunerd serve does not take")
        #expect(rows.count == ServeOptions.table.count, "a row twice")
    }

    @Test("the config file's keys are the table's, exactly the public ones")
    func configurationKeys() {
        #expect(ConfigFile.knownKeys == [
            "listen", "reply", "decisions", "state-dir", "checkpoint-every", "metrics", "control",
            "keep-ratio", "clusters", "temperature", "neighbors", "min-per-cluster", "keep", "seed",
            "kmeans-iterations", "warmup", "lookahead", "recompute-every", "update", "centroids", "save-centroids",
            "max-record-size", "log-level", "fresh", "threads", "append", "overwrite", "kept-ids",
            "dedup-threshold", "dedup-memory", "min-score", "half-life", "spawn-after", "drift-quantile",
            "max-connections", "connection-buffer", "max-reply-backlog", "socket-group", "max-hold",
            "unique-ids", "expected-records", "consumer", "claim-after", "decisions-maxlen",
            "cluster", "shard-id", "sync-every",
        ])
    }

    @Test("docs/options.md's table is the one generated from ServeOptions (PRUNERD_WRITE_DOCS=1 rewrites it)")
    func documentation() throws {
        let url = TestPaths.packageRoot.appendingPathComponent("docs/options.md")
        let page = try String(contentsOf: url, encoding: .utf8)
        let start = try #require(page.range(of: ServeOptions.documentationStart + "\n"), "no start marker in docs/options.md")
        let end = try #require(page.range(of: "\n" + ServeOptions.documentationEnd, range: start.upperBound..<page.endIndex))
        let current = String(page[start.upperBound..<end.lowerBound])
        if current != ServeOptions.documentationTable, ProcessInfo.processInfo.environment["PRUNERD_WRITE_DOCS"] == "1" {
            try page.replacingCharacters(in: start.upperBound..<end.lowerBound, with: ServeOptions.documentationTable)
                .write(to: url, atomically: true, encoding: .utf8)
            return
        }
        #expect(current == ServeOptions.documentationTable, "docs/options.md is behind ServeOptions: PRUNERD_WRITE_DOCS=1 swift test --skip-build --filter ServeOptionTable")
    }

    @Test("systemd/prunerd.toml marks each key [live] or [restart] as the table says")
    func exampleConfigurationMarks() throws {
        let text = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent("systemd/prunerd.toml"), encoding: .utf8)
        let reloads = Dictionary(uniqueKeysWithValues: ServeOptions.table.map { ($0.name, $0.reload) })
        var comment = ""
        var checked = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("# ") || line == "#" { comment += line; continue }
            if line.hasPrefix("#"), let key = line.dropFirst().split(separator: " ").first.map(String.init),
               let reload = reloads[key], line.contains(" = ") {
                if !comment.isEmpty {
                    let live = comment.contains("[live]"), restart = comment.contains("[restart]")
                    #expect(live != restart, "\(key): the comment above it has neither or both marks")
                    #expect(live == (reload == .live), "\(key) is marked \(live ? "[live]" : "[restart]"), the table says \(reload)")
                    checked += 1
                }
                comment = ""
                continue
            }
            comment = ""
        }
        #expect(checked >= 40, "checked \(checked) keys")
    }
}
