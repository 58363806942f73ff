// Where a setting's value comes from: the command line, else the configuration
// file, else the built-in default (the option's row), and the environment the
// defaults of paths and thread counts depend on. Values, not globals, so that
// tests resolve settings in-process.
import PrunerDaemon
#if canImport(Glibc)
import Glibc
#endif

/// A setting that cannot be resolved.
public enum SettingsError: Error, CustomStringConvertible, Sendable {
    /// The configuration file holds a value of the wrong type.
    case config(ConfigError)
    /// The value is of the right type but not allowed, or contradicts another; phrased for the operator, in option names.
    case invalid(String)
    /// A `--listen` or `--metrics` address that does not parse.
    case listenAddress(ListenAddressError)
    /// A redis:// address that does not parse.
    case redisURL(RedisURLError)

    /// The message, as the command line prints it.
    public var description: String {
        switch self {
        case .config(let error): return error.description
        case .invalid(let message): return message
        case .listenAddress(let error): return "\(error)"
        case .redisURL(let error): return "\(error)"
        }
    }
}

/// The values given on the command line, by option.
///
/// Why typed values and not text: the command-line parser has already read them
/// as their types (a 64-bit seed, a float score), and a flag can only say "on".
public struct CommandLineValues: Sendable {
    private var values: [String: any Sendable] = [:]

    /// No options given.
    public init() {}

    /// Records `value` for `key`; nil (not given) leaves the option to the file and the default.
    public mutating func set<Value>(_ key: OptionKey<Value>, _ value: Value?) {
        if let value { values[key.name] = value }
    }

    /// Records a flag that was given; one not given leaves the option to the file (a flag cannot say off).
    public mutating func set(_ key: OptionKey<Bool>, flag: Bool) {
        if flag { values[key.name] = true }
    }

    /// The value given for `key`, if any.
    public func value<Value>(_ key: OptionKey<Value>) -> Value? {
        values[key.name].map { $0 as! Value }
    }
}

/// The command line over the configuration file over the defaults.
public struct SettingsLayers: Sendable {
    /// What the command line gave.
    public var commandLine: CommandLineValues
    /// The configuration file, if one was named.
    public var file: ConfigFile?

    /// Layers of this command line over this file.
    public init(commandLine: CommandLineValues = CommandLineValues(), file: ConfigFile? = nil) {
        self.commandLine = commandLine
        self.file = file
    }

    /// The command line's value, else the file's, else the option's built-in default.
    public func value<Value>(_ key: OptionKey<Value>) throws(SettingsError) -> Value? {
        if let given = commandLine.value(key) { return given }
        if let file, let configured = try key.read(file) { return configured }
        return key.fallback
    }

    /// The value of an option whose row has a built-in default: never nil.
    public func resolved<Value>(_ key: OptionKey<Value>) throws(SettingsError) -> Value {
        guard let value = try value(key) else { preconditionFailure("--\(key.name) has no built-in default in ServeOptions") }
        return value
    }
}

/// What the environment says that settings' defaults depend on.
public struct SettingsEnvironment: Sendable {
    /// Environment variables (only those read: `STATE_DIRECTORY`, `XDG_STATE_HOME`, `HOME`, `LOGS_DIRECTORY`, `RUNTIME_DIRECTORY`).
    public var variables: [String: String]
    /// The online CPUs, the default thread count.
    public var onlineCPUs: Int
    /// Whether systemd passed listening sockets (socket activation makes a service).
    public var socketActivated: Bool

    /// The names of the variables read.
    public static let variableNames = ["STATE_DIRECTORY", "XDG_STATE_HOME", "HOME", "LOGS_DIRECTORY", "RUNTIME_DIRECTORY"]

    /// An environment given by value (tests).
    public init(variables: [String: String] = [:], onlineCPUs: Int = 1, socketActivated: Bool = false) {
        self.variables = variables
        self.onlineCPUs = onlineCPUs
        self.socketActivated = socketActivated
    }

    /// This process's environment; `socketActivated` as the caller found it (taking the sockets is its business).
    public static func current(socketActivated: Bool = false) -> SettingsEnvironment {
        var variables: [String: String] = [:]
        for name in variableNames {
            if let value = getenv(name), value.pointee != 0 { variables[name] = String(cString: value) }
        }
        return SettingsEnvironment(variables: variables, onlineCPUs: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))),
                                   socketActivated: socketActivated)
    }

    /// The variable's first `:`-separated entry (systemd's directory variables may list several), nil when unset or empty.
    func firstPath(_ name: String) -> String? {
        variables[name].flatMap { $0.split(separator: ":").first.map(String.init) }
    }

    /// `$STATE_DIRECTORY` (systemd's StateDirectory=), else `$XDG_STATE_HOME/prunerd`, else `~/.local/state/prunerd`.
    public var stateDirectory: String {
        if let state = firstPath("STATE_DIRECTORY") { return state }
        if let xdg = variables["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/prunerd" }
        return (variables["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ".") + "/.local/state/prunerd"
    }

    /// `$LOGS_DIRECTORY/decisions.jsonl` (systemd's LogsDirectory=), else `<state dir>/decisions.jsonl`.
    public func decisionLog(stateDirectory: String) -> String {
        if let logs = firstPath("LOGS_DIRECTORY") { return logs + "/decisions.jsonl" }
        return stateDirectory + "/decisions.jsonl"
    }

    /// `$RUNTIME_DIRECTORY` (systemd's RuntimeDirectory=), where a service's control socket goes.
    public var runtimeDirectory: String? { firstPath("RUNTIME_DIRECTORY") }
}
