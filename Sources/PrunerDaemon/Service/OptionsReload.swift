// What a SIGHUP reloads, handed to the daemon by the layer that knows the option
// names (PrunerConfig's option table): the daemon reads the options again, applies
// them to the engine and logs what changed, in the user's names.
import PrunerCore

/// The options a SIGHUP reads again, and how its log lines name them.
///
/// Why not a closure returning options: the daemon knows neither which options are
/// live nor how the user spells them; the option table does, so it says both.
public struct OptionsReload: Sendable {
    /// The options as the configuration now gives them (the config file merged with the command line).
    public var read: @Sendable () throws -> PruningOptions
    /// The "reloaded options" line's list: every live option whose value the reload changed,
    /// named as the user spells it ("keep-ratio 0.6, temperature 0.2").
    public var changes: @Sendable (_ replaced: PruningOptions, _ reloaded: PruningOptions) -> String
    /// A setting as the user spells it, for the engine's refusals ("--clusters").
    public var name: @Sendable (PruningSetting) -> String

    /// - Parameters: see the properties.
    public init(read: @escaping @Sendable () throws -> PruningOptions,
                changes: @escaping @Sendable (_ replaced: PruningOptions, _ reloaded: PruningOptions) -> String,
                name: @escaping @Sendable (PruningSetting) -> String) {
        self.read = read
        self.changes = changes
        self.name = name
    }

    /// Why a reload failed, in the user's names.
    func reason(_ error: any Error) -> String {
        (error as? EngineError)?.message(naming: name) ?? "\(error)"
    }
}
