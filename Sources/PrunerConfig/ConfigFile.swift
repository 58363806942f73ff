// The configuration file (`--config /etc/prunerd/prunerd.toml`): TOML whose keys
// are the long command-line options without their dashes. Values there replace
// built-in defaults; options given on the command line replace both.
//
// A library of its own (not in the executable) so that the fuzz target
// `fuzz-config` links exactly the parser the daemon runs.
import PrunerDaemon
import TOMLKit

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

    /// Every key the file may hold: the options of `prunerd serve`.
    public static let knownKeys: Set<String> = [
        "listen", "reply", "decisions", "state-dir", "checkpoint-every", "metrics", "control",
        "keep-ratio", "clusters", "temperature", "neighbors", "min-per-cluster", "keep", "seed",
        "kmeans-iterations", "warmup", "lookahead", "recompute-every", "update", "centroids", "save-centroids",
        "max-record-size", "log-level", "fresh", "threads", "append", "overwrite", "kept-ids",
        "dedup-threshold", "dedup-memory", "min-score", "half-life", "spawn-after", "drift-quantile",
        "max-connections", "connection-buffer", "max-reply-backlog", "socket-group", "max-hold",
        "unique-ids", "expected-records",
    ]

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
    /// Throws ``ConfigError`` for anything but UTF-8 TOML text holding a table of
    /// known keys with supported values.
    public static func parse(_ bytes: [UInt8], path: String) throws(ConfigError) -> ConfigFile {
        // The TOML parser reads a C string: a NUL would silently end the file there.
        if let nul = bytes.firstIndex(of: 0) {
            throw ConfigError(path: path, reason: "byte offset \(nul): a NUL byte; a configuration file is TOML text")
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw ConfigError(path: path, reason: "not UTF-8 text; a configuration file is TOML text")
        }
        if let line = malformedDateTimeLine(bytes) {
            throw ConfigError(path: path, reason: "line \(line): a date-time needs HH:MM after its 'T'")
        }
        if let (line, what) = tableLine(bytes) {
            throw ConfigError(path: path, reason: "line \(line): \(what) are not supported (keys are the long options of prunerd serve, at the top level)")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: String(decoding: bytes, as: UTF8.self))
        } catch let error as TOMLParseError {
            throw ConfigError(path: path, reason: "line \(error.source.begin.line): \(error.description)")
        } catch {
            throw ConfigError(path: path, reason: "\(error)")
        }
        var values: [String: Value] = [:]
        for key in table.keys {
            guard knownKeys.contains(key) else {
                throw ConfigError(path: path, reason: "unknown key '\(key)' (keys are the long options of prunerd serve)")
            }
            let item = table[key]!
            if let flag = item.bool {
                values[key] = .bool(flag)
            } else if let integer = item.int {
                values[key] = .integer(integer)
            } else if let number = item.double {
                values[key] = .number(number)
            } else if let text = item.string {
                values[key] = .string(text)
            } else if let array = item.array {
                var strings: [String] = []
                for element in array {
                    guard let text = element.string else {
                        throw ConfigError(path: path, reason: "'\(key)' must be a list of strings")
                    }
                    strings.append(text)
                }
                values[key] = .strings(strings)
            } else {
                throw ConfigError(path: path, reason: "'\(key)' has an unsupported type")
            }
        }
        return ConfigFile(path: path, values: values)
    }

    /// The line of a value `YYYY-MM-DDT` not followed by a digit, if any.
    ///
    /// Why: toml++ (inside TOMLKit) classifies such a token as a date-time and
    /// then asserts that a digit follows the `T`: `seed = 1979-05-27Tx` aborted
    /// prunerd (and a SIGHUP reload of such a file, the running daemon); in a
    /// build without assertions it is undefined behaviour (found by fuzz-config).
    /// Only tokens that start a value (after `=`, `[` or `,`) are checked.
    static func malformedDateTimeLine(_ bytes: [UInt8]) -> Int? {
        func isDigit(_ i: Int) -> Bool { i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 }
        var line = 1
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x0A { line += 1 }
            let datePattern = [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy { isDigit(index + $0) }
                && index + 10 < bytes.count && bytes[index + 4] == 0x2D && bytes[index + 7] == 0x2D
                && (bytes[index + 10] == UInt8(ascii: "T") || bytes[index + 10] == UInt8(ascii: "t"))
            if datePattern && !isDigit(index + 11) {
                var before = index - 1
                while before >= 0, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[before]) { before -= 1 }
                if before >= 0, [UInt8(ascii: "="), UInt8(ascii: "["), UInt8(ascii: ",")].contains(bytes[before]) {
                    return line
                }
            }
            index += 1
        }
        return nil
    }

    /// The line of a table header (`[…]` starting a line) or an inline table
    /// (`{` starting a value), if any. prunerd's keys are all top-level, so
    /// either is an error anyway; they are refused before toml++ sees them
    /// because malformed headers (`[,]`) trip its assertions and abort the
    /// process (found by fuzz-config).
    static func tableLine(_ bytes: [UInt8]) -> (Int, String)? {
        var line = 1
        var atLineStart = true
        var previous: UInt8 = 0x0A
        for byte in bytes {
            switch byte {
            case 0x0A:
                line += 1; atLineStart = true; continue
            case 0x20, 0x09, 0x0D:
                continue
            case UInt8(ascii: "[") where atLineStart:
                return (line, "tables")
            case UInt8(ascii: "{") where [UInt8(ascii: "="), UInt8(ascii: "["), UInt8(ascii: ",")].contains(previous):
                return (line, "inline tables")
            default:
                break
            }
            atLineStart = false
            previous = byte
        }
        return nil
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

/// A configuration file that cannot be used; names the file and the reason.
public struct ConfigError: Error, CustomStringConvertible {
    /// The configuration file.
    public var path: String
    /// What is wrong with it, phrased for the operator.
    public var reason: String
    public var description: String { "configuration \(path): \(reason)" }

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}
