// The option table (ServeOptions) is the one list of serve's options: the
// command line's @Options, the config file's keys, docs/options.md and the
// [live]/[restart] marks of systemd/prunerd.toml are held to it here
// (CheckConfigTests holds --check-config to it).
import Foundation
import PrunerConfig
import PrunerCore
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
            "max-record-size", "log-level", "fresh", "suspend-on-stop", "threads", "append", "overwrite", "kept-ids",
            "dedup-threshold", "dedup-memory", "min-score", "half-life", "spawn-after", "drift-quantile",
            "max-connections", "connection-buffer", "max-reply-backlog", "socket-group", "max-hold",
            "unique-ids", "expected-records", "consumer", "claim-after", "decisions-maxlen",
            "cluster", "shard-id", "sync-every",
        ])
    }

    /// An example value of every setting, and how `--check-config` shows it. Two groups, each
    /// consistent (`--append` excludes `--overwrite`; cluster mode refuses online centroids, decay and spawning).
    static let examples: [[(name: String, value: String, shown: String)]] = [
        [("listen", "unix:/tmp/p.sock", #"["unix:/tmp/p.sock"]"#), ("claim-after", "7", "7.0"), ("reply", "", "true"),
         ("consumer", "c1", "c1"), ("decisions-maxlen", "5000", "5000"), ("decisions", "/tmp/d.jsonl", "/tmp/d.jsonl"),
         ("append", "", "true"), ("state-dir", "/tmp/st", "/tmp/st"), ("checkpoint-every", "9", "9.0"), ("fresh", "", "true"),
         ("control", "/tmp/c.sock", "/tmp/c.sock"), ("threads", "3", "3"), ("centroids", "/tmp/c.npy", "/tmp/c.npy"),
         ("save-centroids", "/tmp/s.npy", "/tmp/s.npy"), ("metrics", "tcp:127.0.0.1:9100", "tcp:127.0.0.1:9100"),
         ("max-record-size", "4096", "4096"), ("max-connections", "8", "8"), ("connection-buffer", "8192", "8192"),
         ("max-reply-backlog", "8192", "8192"), ("socket-group", "adm", "adm"), ("max-hold", "2", "2.0"),
         ("log-level", "debug", "debug"), ("kept-ids", "/tmp/k.txt", "/tmp/k.txt"), ("unique-ids", "", "true"),
         ("expected-records", "1000", "1000"), ("cluster", "redis://127.0.0.1:6379/p", "redis://127.0.0.1:6379/p"),
         ("shard-id", "s7", "s7"), ("sync-every", "3", "3.0"), ("keep-ratio", "0.5", "0.5"), ("clusters", "7", "7"),
         ("temperature", "0.2", "0.2"), ("neighbors", "5", "5"), ("min-per-cluster", "0.5", "0.5"), ("keep", "easy", "easy"),
         ("seed", "12345", "12345"), ("warmup", "99", "99"), ("lookahead", "3", "3"), ("recompute-every", "50", "50"),
         ("kmeans-iterations", "9", "9"), ("dedup-threshold", "0.05", "0.05"), ("dedup-memory", "64", "64"),
         ("min-score", "0.25", "0.25"), ("drift-quantile", "0.9", "0.9"),
         ("ids", "/tmp/ids.txt", "/tmp/ids.txt"), ("scores", "/tmp/sc.npy", "/tmp/sc.npy"), ("npz-key", "l14_img", "l14_img")],
        [("overwrite", "", "true"), ("checkpoint-every", "9", "9.0"), ("suspend-on-stop", "", "true"), ("update", "online", "online"), ("half-life", "500", "500"), ("spawn-after", "50", "50")],
    ]

    @Test("every setting given on the command line, or in the file, is what --check-config shows")
    func everyOptionReachesItsSetting() throws {
        let rows = Dictionary(uniqueKeysWithValues: ServeOptions.table.map { ($0.name, $0) })
        let named = Self.examples.flatMap { $0.map(\.name) }
        #expect(Set(named) == Set(ServeOptions.table.filter { $0.show != nil }.map(\.name)), "an example for every setting")
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        for group in Self.examples {
            var arguments: [String] = []
            var file: [String] = []
            for example in group {
                let row = try #require(rows[example.name])
                arguments += example.value.isEmpty ? ["--\(example.name)"] : ["--\(example.name)", example.value]
                guard row.source == .commandLineAndFile else { continue }
                switch row.kind {
                case .flag: file.append("\(example.name) = true")
                case .number, .integer, .unsigned: file.append("\(example.name) = \(example.value)")
                case .string, .choice: file.append("\(example.name) = \"\(example.value)\"")
                case .strings: file.append("\(example.name) = [\"\(example.value)\"]")
                }
            }
            let config = work.appendingPathComponent("all.toml")
            try file.joined(separator: "\n").write(to: config, atomically: true, encoding: .utf8)
            let commandLineOnly = group.filter { rows[$0.name]?.source == .commandLineOnly }
                .flatMap { ["--\($0.name)", $0.value] }
            for (source, run) in [("command line", arguments), ("file", ["--config", config.path] + commandLineOnly)] {
                let result = try runProcess(TestPaths.prunerd, ["serve", "--check-config"] + run)
                try #require(result.status == 0, "\(source): \(result.stderr)")
                let lines = Set(String(decoding: result.stdout, as: UTF8.self).split(separator: "\n").map(String.init))
                for example in group {
                    let shown = lines.contains("\(example.name) = \(example.shown)")
                    #expect(shown, "\(source): --\(example.name) \(example.value) not shown as \(example.shown)")
                }
            }
        }
    }

    /// The example as the configuration file holds it, by the row's kind.
    static func fileValue(_ example: String, kind: ValueKind) -> ConfigFile.Value {
        switch kind {
        case .flag: return .bool(true)
        case .number: return .number(Double(example)!)
        case .integer, .unsigned: return .integer(Int(example)!)
        case .string, .choice: return .string(example)
        case .strings: return .strings([example])
        }
    }

    @Test("what the table says a SIGHUP does is what the reload does: applied, refused by the engine, or not read")
    func reloadMatchesTable() throws {
        let base = try DaemonSettings(layers: SettingsLayers(), environment: SettingsEnvironment())
        // Read by the reload and accepted, but used only while warming up: the table says a restart applies them.
        let warmupOnly: Set = ["warmup", "kmeans-iterations"]
        for example in Self.examples.joined() {
            let row = try #require(ServeOptions.table.first { $0.name == example.name })
            guard row.source == .commandLineAndFile else { continue }
            let file = ConfigFile(path: "t.toml", values: [row.name: Self.fileValue(example.value, kind: row.kind)])
            let reloaded = try base.reloadedOptions(file: file)
            guard reloaded != base.pruning else {
                #expect(row.reload == .restart, "\(row.name): a reload does not read it, the table says \(row.reload)")
                continue
            }
            var engine = try StreamingPruner(options: base.pruning, dimension: 4)
            let refused = (try? engine.reload(reloaded)) == nil
            let expected: Reload = refused ? .refused : (warmupOnly.contains(row.name) ? .restart : .live)
            #expect(row.reload == expected, "\(row.name): the reload \(refused ? "refuses" : "applies") it, the table says \(row.reload)")
            if !refused { #expect(engine.options == reloaded, "\(row.name): applied") }
        }
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
