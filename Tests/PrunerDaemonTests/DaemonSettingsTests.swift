// DaemonSettings in-process: the command line over the configuration file over the
// defaults, the defaults a service gets that a filter does not, the environment's
// paths, and the bad-checkpoint policy (moved aside, never half-loaded).
import Foundation
import Logging
import PrunerConfig
import PrunerCore
import PrunerDaemon
import Testing

@Suite("daemon settings")
struct DaemonSettingsTests {
    /// A command line of these (typed) values.
    static func commandLine(_ build: (inout CommandLineValues) -> Void) -> CommandLineValues {
        var values = CommandLineValues()
        build(&values)
        return values
    }

    static func settings(_ commandLine: CommandLineValues = CommandLineValues(), file: [String: ConfigFile.Value]? = nil,
                         environment: SettingsEnvironment = SettingsEnvironment(variables: ["HOME": "/home/u"], onlineCPUs: 4))
        throws(SettingsError) -> DaemonSettings {
        let layers = SettingsLayers(commandLine: commandLine, file: file.map { ConfigFile(path: "t.toml", values: $0) })
        return try DaemonSettings(layers: layers, environment: environment)
    }

    @Test("the command line wins over the file, the file over the default")
    func precedence() throws {
        let file: [String: ConfigFile.Value] = ["keep-ratio": .number(0.5), "threads": .integer(3), "clusters": .integer(8),
                                                "max-hold": .number(0), "reply": .bool(true)]
        let defaults = try Self.settings()
        #expect(defaults.pruning.keepRatio == PruningOptions().keepRatio)
        #expect(defaults.threads == 4)
        #expect(defaults.pruning.warmup == PruningOptions.defaultWarmup(clusters: PruningOptions().clusters))
        #expect(defaults.limits.maxHold == 5 && !defaults.reply)
        let fromFile = try Self.settings(file: file)
        #expect(fromFile.pruning.keepRatio == 0.5 && fromFile.threads == 3 && fromFile.reply)
        #expect(fromFile.pruning.warmup == PruningOptions.defaultWarmup(clusters: 8), "the default warm-up follows the file's k")
        #expect(fromFile.limits.maxHold == nil, "max-hold 0 is off")
        let given = try Self.settings(Self.commandLine {
            $0.set(ServeOptions.keepRatio, 0.2)
            $0.set(ServeOptions.threads, 2)
            $0.set(ServeOptions.reply, flag: false)
        }, file: file)
        #expect(given.pruning.keepRatio == 0.2 && given.threads == 2)
        #expect(given.pruning.clusters == 8, "what the command line does not give comes from the file")
        #expect(given.reply, "a flag not given leaves the file's true")
        let none = try Self.settings(Self.commandLine { $0.set(ServeOptions.threads, 0) })
        #expect(none.threads == 1, "at least one thread")
    }

    @Test("a filter has no checkpoints and no control socket and reads stdin; a service gets them")
    func serviceModeDefaults() throws {
        let filter = try Self.settings()
        #expect(!filter.isService && filter.checkpointEvery == nil && filter.checkpointPath == nil && filter.control == nil)
        #expect(filter.inputs(given: [], matrices: false) == ["-"])
        #expect(filter.inputs(given: [], matrices: true) == [])
        #expect(!filter.needsStateDirectory)

        let listening = Self.commandLine { $0.set(ServeOptions.listen, ["unix:/tmp/in.sock"]) }
        let service = try Self.settings(listening)
        #expect(service.isService && service.checkpointEvery == 60)
        #expect(service.output.stateDirectory == "/home/u/.local/state/prunerd")
        #expect(service.checkpointPath == "/home/u/.local/state/prunerd/checkpoint.prnckpt")
        #expect(service.control?.path == "/home/u/.local/state/prunerd/control.sock" && service.control?.inStateDirectory == true)
        #expect(service.inputs(given: [], matrices: false) == [], "a service waits for connections, not stdin")
        #expect(service.needsStateDirectory)

        let systemd = SettingsEnvironment(variables: ["STATE_DIRECTORY": "/var/lib/prunerd", "RUNTIME_DIRECTORY": "/run/prunerd:/run/x",
                                                      "LOGS_DIRECTORY": "/var/log/prunerd"], onlineCPUs: 2, socketActivated: true)
        let activated = try Self.settings(environment: systemd)
        #expect(activated.isService, "sockets passed by systemd make a service")
        #expect(activated.control?.path == "/run/prunerd/control.sock" && activated.control?.inStateDirectory == false)
        #expect(activated.output.decisions == "/var/log/prunerd/decisions.jsonl" && !activated.output.decisionsGiven)
        #expect(activated.checkpointPath == "/var/lib/prunerd/checkpoint.prnckpt")

        let off = try Self.settings(Self.commandLine { $0.set(ServeOptions.checkpointEvery, 0) })
        #expect(off.checkpointEvery == 0 && off.checkpointPath != nil, "0: checkpoints only at start and stop")
        let xdg = try Self.settings(environment: SettingsEnvironment(variables: ["XDG_STATE_HOME": "/x", "HOME": "/h"]))
        #expect(xdg.output.stateDirectory == "/x/prunerd" && xdg.output.decisions == "/x/prunerd/decisions.jsonl")
    }

    @Test("contradictions and values out of range are refused in option names; a mistyped file value names the file")
    func refusals() throws {
        func reason(_ commandLine: CommandLineValues, file: [String: ConfigFile.Value]? = nil) -> String? {
            do { _ = try Self.settings(commandLine, file: file); return nil } catch { return error.description }
        }
        #expect(reason(Self.commandLine { $0.set(ServeOptions.append, flag: true); $0.set(ServeOptions.overwrite, flag: true) })?
            .hasPrefix("--append and --overwrite exclude each other") == true)
        #expect(reason(Self.commandLine { $0.set(ServeOptions.shardID, "a") }) == "--shard-id and --sync-every need --cluster")
        #expect(reason(Self.commandLine { $0.set(ServeOptions.claimAfter, 0) }) == "--claim-after must be a positive number of seconds")
        #expect(reason(Self.commandLine { $0.set(ServeOptions.connectionBuffer, 100) }) == "--connection-buffer must be at least 4096 bytes")
        #expect(reason(CommandLineValues(), file: ["clusters": .string("many")]) == "configuration t.toml: 'clusters' must be an integer")
        #expect(reason(CommandLineValues(), file: ["keep": .string("soft")]) == "'keep' cannot be 'soft'")
        #expect(reason(Self.commandLine { $0.set(ServeOptions.listen, ["udp:1"]) }) != nil)
        // The core names the field; the option table names the option, from the command line or the file.
        #expect(reason(Self.commandLine { $0.set(ServeOptions.kmeansIterations, 0) }) == "--kmeans-iterations must be at least 1, got 0")
        #expect(reason(CommandLineValues(), file: ["drift-quantile": .number(1)]) == "--drift-quantile must be in (0, 1), got 1.0")
        #expect(reason(Self.commandLine { $0.set(ServeOptions.cluster, "redis://127.0.0.1:6379/p"); $0.set(ServeOptions.halfLife, 10) })
            == "--half-life is not supported with --cluster: statistics must add exactly across shards")
        #expect(reason(Self.commandLine { $0.set(ServeOptions.cluster, "redis://127.0.0.1:6379/p"); $0.set(ServeOptions.update, CentroidUpdate.online) })
            == "--update online is not supported with --cluster: centroids are frozen in cluster mode (docs/scale-out.md)")
    }

    @Test("every field of PruningOptions has its row, and the core's errors come out in its option name")
    func settingNames() throws {
        for setting in PruningSetting.allCases {
            let option = ServeOptions.option(for: setting)
            #expect(ServeOptions.table.contains { $0.name == option.name }, "\(setting): \(option.name)")
        }
        var options = PruningOptions()
        options.keepRatio = 2
        do throws(PruningOptionsError) {
            try options.validate()
            Issue.record("keep-ratio 2 accepted")
        } catch {
            #expect(error.setting == .keepRatio && error.requirement == .interval("(0, 1]") && error.value == "2.0")
            #expect(error.inOptionNames == "--keep-ratio must be in (0, 1], got 2.0")
        }
        #expect(EngineError.notLive(.dedupMemory).message(naming: { ServeOptions.option(for: $0).name })
            .hasPrefix("dedup-memory cannot change while the engine runs"))
    }

    @Test("a SIGHUP's log line names every live option whose value changed, from the table, and only those")
    func reloadChanges() throws {
        let settings = try Self.settings()
        let reload = settings.optionsReload(configPath: nil)
        var reloaded = settings.pruning
        #expect(reload.changes(settings.pruning, reloaded) == "none changed")
        reloaded.keepRatio = 0.6
        reloaded.lookahead = 7
        reloaded.minScore = 0.25
        reloaded.driftQuantile = 0.9
        reloaded.warmup = 5   // read at start only: not a live option, not named
        #expect(reload.changes(settings.pruning, reloaded) == "keep-ratio 0.6, lookahead 7, min-score 0.25, drift-quantile 0.9")
        // Each live row alone, changed: named by itself.
        let changes: [String: (inout PruningOptions) -> Void] = [
            "keep-ratio": { $0.keepRatio = 0.5 }, "temperature": { $0.temperature = 0.2 }, "neighbors": { $0.neighbors = 3 },
            "min-per-cluster": { $0.minPerCluster = 1 }, "keep": { $0.keep = .easy }, "lookahead": { $0.lookahead = 9 },
            "recompute-every": { $0.recomputeEvery = 10 }, "dedup-threshold": { $0.dedupThreshold = 0.1 },
            "min-score": { $0.minScore = 1 }, "half-life": { $0.halfLife = 100 }, "spawn-after": { $0.spawnAfter = 50 },
            "drift-quantile": { $0.driftQuantile = 0.5 },
        ]
        let live = ServeOptions.table.filter { $0.reload == .live }.map(\.name)
        #expect(Set(live) == Set(changes.keys))
        for name in live {
            var one = settings.pruning
            changes[name]?(&one)
            #expect(reload.changes(settings.pruning, one).hasPrefix("\(name) "), "\(name)")
        }
    }

    @Test("cluster mode: update auto becomes frozen; the shard id is the Redis consumer name")
    func clusterMode() throws {
        let settings = try Self.settings(Self.commandLine {
            $0.set(ServeOptions.cluster, "redis://127.0.0.1:6379/p")
            $0.set(ServeOptions.shardID, "s1")
            $0.set(ServeOptions.listen, ["redis://127.0.0.1:6379/in"])
        })
        #expect(settings.pruning.update == .frozen)
        #expect(settings.cluster?.shardID == "s1" && settings.cluster?.syncEvery == ClusterConfiguration.defaultSyncEvery)
        #expect(settings.redisStreams.map(\.consumer) == ["s1"] && settings.isService)
    }

    @Test("a SIGHUP's options: the same command line over the file as it is now")
    func reload() throws {
        let settings = try Self.settings(Self.commandLine { $0.set(ServeOptions.temperature, 0.3) }, file: ["keep-ratio": .number(0.5)])
        let reloaded = try settings.reloadedOptions(file: ConfigFile(path: "t.toml", values: ["keep-ratio": .number(0.6), "temperature": .number(0.9)]))
        #expect(reloaded.keepRatio == 0.6 && reloaded.temperature == 0.3)
        #expect(try settings.reloadedOptions(file: nil).keepRatio == PruningOptions().keepRatio)
    }

    @Test("a checkpoint that does not restore is moved aside and the run starts fresh; --fresh leaves it alone")
    func badCheckpoint() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let commandLine = Self.commandLine {
            $0.set(ServeOptions.stateDir, directory.path)
            $0.set(ServeOptions.checkpointEvery, 0)
            $0.set(ServeOptions.clusters, 2)
            $0.set(ServeOptions.warmup, 4)
        }
        let settings = try Self.settings(commandLine)
        let checkpoint = try #require(settings.checkpointPath)
        let garbage = Data("not a checkpoint".utf8)
        try garbage.write(to: URL(fileURLWithPath: checkpoint))

        var freshValues = commandLine
        freshValues.set(ServeOptions.fresh, flag: true)
        let fresh = try Self.settings(freshValues).startingEngine(logger: logger)
        #expect(!fresh.restoredEngine && fresh.resume == nil)
        #expect(FileManager.default.fileExists(atPath: checkpoint), "--fresh does not touch the checkpoint")

        let start = try settings.startingEngine(logger: logger)
        #expect(!start.restoredEngine && start.resume == nil && start.idFilter == nil)
        #expect(start.rejectedCheckpoint?.path == checkpoint)
        #expect(FileManager.default.fileExists(atPath: checkpoint), "moved aside only once the run is sure to start")
        start.setRejectedCheckpointAside(logger: logger)
        #expect(!FileManager.default.fileExists(atPath: checkpoint))
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoint + DaemonSettings.rejectedCheckpointSuffix)) == garbage)
        #expect(start.engine.warmupProgress != nil, "a fresh engine, warming up")
    }

    @Test("--unique-ids: the checkpoint's filter is kept (its size too), else a new one; without the flag none")
    func idFilterChoice() throws {
        let on = try Self.settings(Self.commandLine {
            $0.set(ServeOptions.uniqueIDs, flag: true)
            $0.set(ServeOptions.expectedRecords, 1000)
        })
        var plan = StartPlan()
        let restored = IDFilter(expectedRecords: 500)
        #expect(on.idFilter(restored: restored, resume: nil, restoredEngine: true, plan: &plan)?.expectedRecords == 500)
        #expect(plan.notices.last?.contains("it keeps its size, --expected-records 1000") == true)
        plan = StartPlan()
        #expect(on.idFilter(restored: nil, resume: nil, restoredEngine: true, plan: &plan)?.expectedRecords == 1000)
        #expect(plan.warnings.count == 1)
        plan = StartPlan()
        #expect(try Self.settings().idFilter(restored: restored, resume: nil, restoredEngine: true, plan: &plan) == nil)
        #expect(plan.notices.count == 1)
    }
}
