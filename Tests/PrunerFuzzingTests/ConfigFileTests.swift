// The configuration parser on the values that used to trap the daemon
// (found while writing the fuzz-config target; `prunerd serve --config` died
// with "Negative value is not representable" / "Double value cannot be
// converted to Int").
import PrunerConfig
import Testing

@Suite struct ConfigFileTests {
    func parse(_ text: String) throws -> ConfigFile {
        try ConfigFile.parse(Array(text.utf8), path: "test.toml")
    }

    @Test func aNegativeSeedIsAnErrorNamingTheKey() throws {
        let file = try parse("seed = -1\n")
        #expect(throws: ConfigError.self) { try file.unsigned("seed") }
        do { _ = try file.unsigned("seed") } catch { #expect("\(error)" == "configuration test.toml: 'seed' must be a non-negative integer") }
    }

    @Test func integersAreKeptExactUpToInt64Max() throws {
        let file = try parse("warmup = 9223372036854775807\nseed = 9007199254740993\nclusters = -9223372036854775808\n")
        #expect(try file.int("warmup") == Int.max)
        #expect(try file.unsigned("seed") == 9_007_199_254_740_993)  // not representable as a Double
        #expect(try file.int("clusters") == Int.min)
    }

    @Test func anIntegerIsANumberButAFloatIsNotAnInteger() throws {
        let file = try parse("keep-ratio = 1\ntemperature = 0.5\n")
        #expect(try file.double("keep-ratio") == 1)
        #expect(throws: ConfigError.self) { try file.int("temperature") }
    }

    @Test func aSyntaxErrorNamesTheLine() {
        #expect { try parse("keep = 'hard'\nclusters = = 3\n") } throws: { error in
            "\(error)".hasPrefix("configuration test.toml: line 2:")
        }
    }
}
