// One row of the option table of `prunerd serve` (ServeOptions): its name (the
// long option and the configuration key), the kind of value, the default, what
// a SIGHUP does with it and how `--check-config` shows it. The config file's
// keys, the value reading, `--check-config` and docs/options.md come from these
// rows; the @Options of the command line are held to them by a test.

/// What a SIGHUP does with a changed value of an option.
public enum Reload: String, Sendable {
    /// Applied to the records decided from then on.
    case live
    /// A reload that changes it is refused (logged); the running configuration is kept.
    case refused
    /// Read at start only: a reload leaves the running value (a restart applies it).
    case restart
}

/// Where an option may be given.
public enum OptionSource: Sendable {
    /// On the command line and, under the same name, in the configuration file.
    case commandLineAndFile
    /// On the command line only (what names the file, per-run matrix annotations).
    case commandLineOnly
}

/// The kind of value an option takes, as the configuration file spells it.
public enum ValueKind: Sendable, Equatable {
    /// A flag: given or not (`true`/`false` in the file).
    case flag
    /// A number (an integer counts).
    case number
    /// An integer.
    case integer
    /// A non-negative integer.
    case unsigned
    /// A string.
    case string
    /// A string, or a list of strings (the option is repeatable).
    case strings
    /// One of these strings.
    case choice([String])

    /// How docs/options.md names the kind.
    public var documentation: String {
        switch self {
        case .flag: return "flag"
        case .number: return "number"
        case .integer: return "integer"
        case .unsigned: return "integer ≥ 0"
        case .string: return "string"
        case .strings: return "strings (repeatable)"
        case .choice(let values): return values.joined(separator: " \\| ")
        }
    }
}

/// One option of `prunerd serve`: the facts every place that names it derives from.
public struct ServeOption: Sendable {
    /// The long option without its dashes, which is also the configuration key.
    public let name: String
    /// The kind of value.
    public let kind: ValueKind
    /// The default as docs/options.md states it.
    public let defaultText: String
    /// What a SIGHUP does with it.
    public let reload: Reload
    /// Where it may be given.
    public let source: OptionSource
    /// Its line in `--check-config` (the effective value); nil for what is not a setting (`--config`, `--check-config`).
    public let show: (@Sendable (DaemonSettings) -> String)?
    /// A line `--check-config` prints after this one, for a part of the value shown apart (the redis:// ones of `listen`).
    public var companion: ShownLine?
}

/// A line of `--check-config` that is not an option of its own.
public struct ShownLine: Sendable {
    /// The name before ` = `.
    public let name: String
    /// The value after it.
    public let show: @Sendable (DaemonSettings) -> String
}

/// A typed handle on a row: reads the option's value from the command line or the file as `Value`.
///
/// Why typed: the value reading and the row cannot disagree on the option's name or kind.
public struct OptionKey<Value: Sendable>: Sendable {
    /// The row.
    public private(set) var option: ServeOption
    /// The built-in default, when it does not depend on other settings.
    public let fallback: Value?
    let read: @Sendable (ConfigFile) throws(SettingsError) -> Value?

    /// The option's name (long option, configuration key).
    public var name: String { option.name }

    /// This key with a companion line in `--check-config`.
    func followed(by name: String, _ show: @escaping @Sendable (DaemonSettings) -> String) -> Self {
        var key = self
        key.option.companion = ShownLine(name: name, show: show)
        return key
    }

    init(_ name: String, _ kind: ValueKind, fallback: Value?, defaultText: String?, reload: Reload,
         source: OptionSource = .commandLineAndFile, show: (@Sendable (DaemonSettings) -> String)?,
         read: @escaping @Sendable (ConfigFile, String) throws(SettingsError) -> Value?) {
        option = ServeOption(name: name, kind: kind, defaultText: defaultText ?? fallback.map { "\($0)" } ?? "none",
                             reload: reload, source: source, show: show, companion: nil)
        self.fallback = fallback
        self.read = { file throws(SettingsError) in try read(file, name) }
    }
}

/// Reads a value of the file as the option's kind; a mistyped value is the file's error.
private func typed<Value>(_ read: @escaping @Sendable (ConfigFile, String) throws(ConfigError) -> Value?)
    -> @Sendable (ConfigFile, String) throws(SettingsError) -> Value? {
    { file, key throws(SettingsError) in
        do throws(ConfigError) { return try read(file, key) } catch { throw .config(error) }
    }
}

extension OptionKey where Value == Double {
    static func number(_ name: String, _ fallback: Double? = nil, _ defaultText: String? = nil, reload: Reload,
                       show: @escaping @Sendable (DaemonSettings) -> String) -> Self {
        Self(name, .number, fallback: fallback, defaultText: defaultText, reload: reload, show: show,
             read: typed { file, key throws(ConfigError) in try file.double(key) })
    }
}

extension OptionKey where Value == Float {
    static func float(_ name: String, _ defaultText: String, reload: Reload,
                      show: @escaping @Sendable (DaemonSettings) -> String) -> Self {
        Self(name, .number, fallback: nil, defaultText: defaultText, reload: reload, show: show,
             read: typed { file, key throws(ConfigError) in try file.double(key).map { Float($0) } })
    }
}

extension OptionKey where Value == Int {
    static func integer(_ name: String, _ fallback: Int? = nil, _ defaultText: String? = nil, reload: Reload,
                        show: @escaping @Sendable (DaemonSettings) -> String) -> Self {
        Self(name, .integer, fallback: fallback, defaultText: defaultText, reload: reload, show: show,
             read: typed { file, key throws(ConfigError) in try file.int(key) })
    }
}

extension OptionKey where Value == UInt64 {
    static func unsigned(_ name: String, _ fallback: UInt64, reload: Reload,
                         show: @escaping @Sendable (DaemonSettings) -> String) -> Self {
        Self(name, .unsigned, fallback: fallback, defaultText: nil, reload: reload, show: show,
             read: typed { file, key throws(ConfigError) in try file.unsigned(key) })
    }
}

extension OptionKey where Value == Bool {
    static func flag(_ name: String, source: OptionSource = .commandLineAndFile, reload: Reload,
                     show: (@Sendable (DaemonSettings) -> String)?) -> Self {
        Self(name, .flag, fallback: false, defaultText: "off", reload: reload, source: source, show: show,
             read: typed { file, key throws(ConfigError) in try file.bool(key) })
    }
}

extension OptionKey where Value == String {
    static func string(_ name: String, _ fallback: String? = nil, _ defaultText: String? = nil,
                       source: OptionSource = .commandLineAndFile, reload: Reload,
                       show: (@Sendable (DaemonSettings) -> String)?) -> Self {
        Self(name, .string, fallback: fallback, defaultText: defaultText, reload: reload, source: source, show: show,
             read: typed { file, key throws(ConfigError) in try file.string(key) })
    }
}

extension OptionKey where Value == [String] {
    static func strings(_ name: String, _ defaultText: String, reload: Reload,
                        show: @escaping @Sendable (DaemonSettings) -> String) -> Self {
        Self(name, .strings, fallback: nil, defaultText: defaultText, reload: reload, show: show,
             read: typed { file, key throws(ConfigError) in try file.strings(key) })
    }
}

extension OptionKey where Value: RawRepresentable & CaseIterable, Value.RawValue == String {
    /// One of the enum's raw values; another string is refused naming the key.
    static func choice(_ name: String, _ fallback: Value, reload: Reload,
                       show: @escaping @Sendable (DaemonSettings) -> String) -> Self {
        Self(name, .choice(Value.allCases.map(\.rawValue)), fallback: fallback, defaultText: fallback.rawValue,
             reload: reload, show: show) { file, key throws(SettingsError) in
            let text: String?
            do throws(ConfigError) { text = try file.string(key) } catch { throw .config(error) }
            guard let text else { return nil }
            guard let value = Value(rawValue: text) else { throw .invalid("'\(key)' cannot be '\(text)'") }
            return value
        }
    }
}
