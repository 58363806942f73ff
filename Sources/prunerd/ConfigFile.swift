// The configuration file (`--config /etc/prunerd/prunerd.toml`): TOML whose keys
// are the long command-line options without their dashes. Values there replace
// built-in defaults; options given on the command line replace both.
import PrunerDaemon
import TOMLKit

/// A parsed configuration file, as plain Sendable values.
struct ConfigFile: Sendable {
    enum Value: Sendable {
        case number(Double, isInteger: Bool)
        case string(String)
        case bool(Bool)
        case strings([String])
    }

    /// Every key the file may hold: the options of `prunerd serve`.
    static let knownKeys: Set<String> = [
        "listen", "reply", "decisions", "state-dir", "checkpoint-every", "metrics", "control",
        "keep-ratio", "clusters", "temperature", "neighbors", "min-per-cluster", "keep", "seed",
        "kmeans-iterations", "warmup", "lookahead", "recompute-every", "update", "centroids", "save-centroids",
        "max-record-size", "log-level", "fresh", "threads", "append", "overwrite", "kept-ids",
        "dedup-threshold", "dedup-memory", "min-score", "half-life", "spawn-after", "drift-quantile",
        "max-connections", "connection-buffer", "max-reply-backlog", "socket-group",
    ]

    let path: String
    private let values: [String: Value]

    init(path: String, values: [String: Value]) {
        self.path = path
        self.values = values
    }

    /// Reads and validates the file; unknown keys are errors (a typo must not pass silently).
    static func load(path: String) throws -> ConfigFile {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(atPath: path)
        } catch {
            // A directory, a missing or unreadable file: say so with the path, not a bare errno.
            throw ConfigError(path: path, reason: "cannot be read: \(error.reason)")
        }
        // The TOML parser reads a C string: a NUL would silently end the file there.
        if let nul = bytes.firstIndex(of: 0) {
            throw ConfigError(path: path, reason: "byte offset \(nul): a NUL byte; a configuration file is TOML text")
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw ConfigError(path: path, reason: "not UTF-8 text; a configuration file is TOML text")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: String(decoding: bytes, as: UTF8.self))
        } catch let error as TOMLParseError {
            throw ConfigError(path: path, reason: "line \(error.source.begin.line): \(error.description)")
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
                values[key] = .number(Double(integer), isInteger: true)
            } else if let number = item.double {
                values[key] = .number(number, isInteger: false)
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

    func double(_ key: String) throws -> Double? {
        guard let value = values[key] else { return nil }
        guard case .number(let number, _) = value else { throw mistyped(key, "a number") }
        return number
    }

    func int(_ key: String) throws -> Int? {
        guard let value = values[key] else { return nil }
        guard case .number(let number, true) = value else { throw mistyped(key, "an integer") }
        return Int(number)
    }

    func string(_ key: String) throws -> String? {
        guard let value = values[key] else { return nil }
        guard case .string(let text) = value else { throw mistyped(key, "a string") }
        return text
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = values[key] else { return nil }
        guard case .bool(let flag) = value else { throw mistyped(key, "true or false") }
        return flag
    }

    /// A list of strings; a single string counts as a list of one.
    func strings(_ key: String) throws -> [String]? {
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
struct ConfigError: Error, CustomStringConvertible {
    var path: String
    var reason: String
    var description: String { "configuration \(path): \(reason)" }
}
