// docs/options.md's "accepts" column against what the settings really refuse:
// every numeric option states its range, a value just outside it is refused
// with an error naming the option, and the values at its edges are accepted.
import PrunerConfig
import Testing

@Suite("option ranges")
struct ServeOptionRangeTests {
    /// The numeric rows of the option table.
    static let numeric = ServeOptions.table.filter { [.number, .integer, .unsigned].contains($0.kind) }

    /// A value as the configuration file would hold it for this option's kind.
    static func fileValue(_ value: Double, for option: ServeOption) -> ConfigFile.Value {
        option.kind == .number || !value.isFinite ? .number(value) : .integer(Int(value))
    }

    @Test("every numeric option states the values it accepts")
    func everyNumericOptionHasARange() {
        for option in Self.numeric {
            #expect(ServeOptions.acceptedValues[option.name] != nil, "--\(option.name) has no stated range")
        }
        for name in ServeOptions.acceptedValues.keys {
            #expect(Self.numeric.contains { $0.name == name }, "\(name) is not a numeric option")
        }
    }

    @Test("a value just outside the stated range is refused, naming the option; the edges are accepted",
          arguments: Self.numeric.map(\.name))
    func statedRangeHolds(name: String) throws {
        let option = try #require(Self.numeric.first { $0.name == name })
        let range = try #require(ServeOptions.acceptedValues[name])
        for value in range.refused {
            var file = range.context
            file[name] = Self.fileValue(value, for: option)
            do {
                _ = try DaemonSettingsTests.settings(file: file)
                Issue.record("--\(name) \(value) was accepted; docs/options.md says \(range.text)")
            } catch {
                #expect("\(error)".contains(name), "--\(name) \(value): \(error)")
            }
        }
        for value in range.accepted {
            var file = range.context
            file[name] = Self.fileValue(value, for: option)
            do {
                _ = try DaemonSettingsTests.settings(file: file)
            } catch {
                Issue.record("--\(name) \(value) was refused (\(error)); docs/options.md says \(range.text)")
            }
        }
    }
}
