// The configuration file (`--config /etc/prunerd/prunerd.toml`): flat TOML
// (FlatTOMLParser) whose keys are the long command-line options without their
// dashes. Values there replace built-in defaults; options given on the command
// line replace both.
//
// A library of its own (not in the executable) so that the fuzz target
// `fuzz-config` links exactly the parser the daemon runs.
import PrunerDaemon

/// A parsed configuration file, as plain Sendable values.
///
/// Why values and not the TOML table: the daemon reads a key only when the
/// command line did not give it, long after parsing, on any thread.
public struct ConfigFile: Sendable {
    /// A value as written in the file, before it is read as a particular option.
    public enum Value: Sendable {
        /// A TOML integer, kept exact (a 64-bit seed must not pass through Double).
        case integer(Int)
        /// A TOML float.
        case number(Double)
        case string(String)
        case bool(Bool)
        case strings([String])
    }

    /// Every key the file may hold: the options of `prunerd serve` that the option table (ServeOptions) allows in a file.
    public static var knownKeys: Set<String> { ServeOptions.configurationKeys }

    /// The file's path, named in every error about it.
    public let path: String
    private let values: [String: Value]

    /// A configuration from values already read (tests, and `parse`).
    public init(path: String, values: [String: Value]) {
        self.path = path
        self.values = values
    }

    /// Reads and validates the file; unknown keys are errors (a typo must not pass silently).
    public static func load(path: String) throws(ConfigError) -> ConfigFile {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(atPath: path)
        } catch {
            // A directory, a missing or unreadable file: say so with the path, not a bare errno.
            throw ConfigError(path: path, reason: "cannot be read: \(error.reason)")
        }
        return try parse(bytes, path: path)
    }

    /// Parses and validates the bytes of a file at `path` (named in errors only).
    /// Throws ``ConfigError`` for anything but UTF-8 text of top-level
    /// `key = value` lines (the flat subset of TOML that ``FlatTOMLParser``
    /// reads) whose keys are known; a syntax error names its line and column.
    public static func parse(_ bytes: [UInt8], path: String) throws(ConfigError) -> ConfigFile {
        // Named by its byte offset: a NUL usually means a binary file given by mistake.
        if let nul = bytes.firstIndex(of: 0) {
            let (line, column) = FlatTOMLParser.lineAndColumn(of: nul, in: bytes)
            throw ConfigError(path: path, reason: "a NUL byte (byte offset \(nul)); a configuration file is TOML text", line: line, column: column)
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw ConfigError(path: path, reason: "not UTF-8 text; a configuration file is TOML text")
        }
        var parser = FlatTOMLParser(bytes)
        let entries: [FlatTOMLEntry]
        do {
            entries = try parser.parse()
        } catch {
            let (line, column) = FlatTOMLParser.lineAndColumn(of: error.offset, in: bytes)
            throw ConfigError(path: path, reason: error.reason, line: line, column: column)
        }
        var values: [String: Value] = [:]
        for entry in entries {
            guard knownKeys.contains(entry.key) else {
                throw ConfigError(path: path, reason: "unknown key '\(entry.key)' (keys are the long options of prunerd serve)")
            }
            values[entry.key] = entry.value
        }
        return ConfigFile(path: path, values: values)
    }

    /// The number at `key` (an integer counts); `nil` when absent.
    public func double(_ key: String) throws(ConfigError) -> Double? {
        switch values[key] {
        case nil: return nil
        case .number(let number)?: return number
        case .integer(let integer)?: return Double(integer)
        default: throw mistyped(key, "a number")
        }
    }

    /// The integer at `key`; `nil` when absent.
    public func int(_ key: String) throws(ConfigError) -> Int? {
        guard let value = values[key] else { return nil }
        guard case .integer(let integer) = value else { throw mistyped(key, "an integer") }
        return integer
    }

    /// The non-negative integer at `key` (a seed); `nil` when absent.
    public func unsigned(_ key: String) throws(ConfigError) -> UInt64? {
        guard let integer = try int(key) else { return nil }
        guard integer >= 0 else { throw mistyped(key, "a non-negative integer") }
        return UInt64(integer)
    }

    /// The string at `key`; `nil` when absent.
    public func string(_ key: String) throws(ConfigError) -> String? {
        guard let value = values[key] else { return nil }
        guard case .string(let text) = value else { throw mistyped(key, "a string") }
        return text
    }

    /// The boolean at `key`; `nil` when absent.
    public func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let value = values[key] else { return nil }
        guard case .bool(let flag) = value else { throw mistyped(key, "true or false") }
        return flag
    }

    /// A list of strings; a single string counts as a list of one.
    public func strings(_ key: String) throws(ConfigError) -> [String]? {
        guard let value = values[key] else { return nil }
        switch value {
        case .strings(let list): return list
        case .string(let text): return [text]
        default: throw mistyped(key, "a string or a list of strings")
        }
    }

    private func mistyped(_ key: String, _ expected: String) -> ConfigError {
        ConfigError(path: path, reason: "'\(key)' must be \(expected)")
    }
}

/// A configuration file that cannot be used; names the file, where in it
/// (for a syntax error) and the reason.
public struct ConfigError: Error, CustomStringConvertible {
    /// The configuration file.
    public var path: String
    /// What is wrong with it, phrased for the operator.
    public var reason: String
    /// Line of a syntax error, from 1; `nil` for errors about the file as a whole or a key's type.
    public var line: Int?
    /// Column (characters, from 1) of a syntax error.
    public var column: Int?
    /// "configuration PATH: line L: REASON (column C)": the line first, so
    /// that it reads like a compiler's message.
    public var description: String {
        guard let line else { return "configuration \(path): \(reason)" }
        return "configuration \(path): line \(line): \(reason)" + (column.map { " (column \($0))" } ?? "")
    }

    /// An error; `line` and `column` when the reason is about one place in the file.
    public init(path: String, reason: String, line: Int? = nil, column: Int? = nil) {
        self.path = path
        self.reason = reason
        self.line = line
        self.column = column
    }
}
