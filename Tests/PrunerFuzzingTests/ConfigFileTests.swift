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

/// Unknown keys are named, next to known ones and as table headers; a file of
/// known keys reads every one of them (the shapes fuzz-config starts from).
@Suite struct ConfigFileKeyTests {
    @Test func anUnknownKeyIsNamedEvenNextToKnownOnes() {
        #expect { try ConfigFile.parse(Array("keep = 'easy'\nkep-ratio = 0.2\nseed = 3\n".utf8), path: "t.toml") } throws: { error in
            "\(error)" == "configuration t.toml: unknown key 'kep-ratio' (keys are the long options of prunerd serve)"
        }
        #expect { try ConfigFile.parse(Array("[serve]\nseed = 3\n".utf8), path: "t.toml") } throws: { error in
            "\(error)".contains("line 1: tables are not supported")
        }
    }

    @Test func everyKnownKeyIsRead() throws {
        let file = try ConfigFile.parse(Array("keep = 'easy'\nseed = 3\nlisten = ['unix:/tmp/a', 'tcp:7070']\nfresh = true\n".utf8), path: "t.toml")
        #expect(try file.string("keep") == "easy")
        #expect(try file.unsigned("seed") == 3)
        #expect(try file.strings("listen") == ["unix:/tmp/a", "tcp:7070"])
        #expect(try file.bool("fresh") == true)
        #expect(try file.double("keep-ratio") == nil)
    }
}

/// Found by fuzz-config: `seed = 1979-05-27Tx…` tripped an assertion inside
/// toml++ (TOMLKit's parser) and aborted `prunerd serve --config` (SIGABRT);
/// a SIGHUP reload of such a file would have aborted the running daemon.
@Suite struct ConfigFileDateTimeTests {
    @Test func aDateTimeWithoutItsTimeIsAnErrorNotAnAbort() throws {
        for text in ["seed = 1979-05-27Ts7:\u{1}N:00Z\n L\u{FEFF}=-'\nep-ratio = nan\n", "seed = 1979-05-27Tx\n",
                     "listen = [\n  1979-05-27t:00\n]\n", "keep = 'easy'\nseed = 2024-01-01T\n"] {
            #expect { try ConfigFile.parse(Array(text.utf8), path: "t.toml") } throws: { error in
                "\(error)".contains("a date-time needs HH:MM after its 'T'")
            }
        }
        // A well-formed date-time still reaches the parser (an unsupported type), and a string holding one is text.
        #expect { try ConfigFile.parse(Array("seed = 1979-05-27T07:32:00Z\n".utf8), path: "t.toml") } throws: { error in
            "\(error)".contains("'seed' has an unsupported type")
        }
        let file = try ConfigFile.parse(Array("decisions = '/logs/2024-01-01Tuesday.jsonl'\n".utf8), path: "t.toml")
        #expect(try file.string("decisions") == "/logs/2024-01-01Tuesday.jsonl")
    }
}

/// Found by fuzz-config: a malformed table header (`[,]`) tripped another toml++
/// assertion (parse_key) and aborted the process. Tables and inline tables are
/// refused before the TOML parser runs (prunerd has no table keys).
@Suite struct ConfigFileTableTests {
    @Test func tablesAreAnErrorNotAnAbort() {
        for (text, reason) in [("[,]0 2\n[taleX\nx =ke1\n", "line 1: tables"), ("seed = 1\n  [serve]\n", "line 2: tables"),
                               ("[[x]]\n", "line 1: tables"), ("keep = {,}\n", "line 1: inline tables"),
                               ("listen = [\n  {a = 1},\n]\n", "line 2: inline tables")] {
            #expect { try ConfigFile.parse(Array(text.utf8), path: "t.toml") } throws: { error in
                "\(error)".contains(reason + " are not supported")
            }
        }
    }

    @Test func bracketsAndBracesInsideValuesAreFine() throws {
        let file = try ConfigFile.parse(Array("listen = [\n  \"unix:/tmp/{a}[b]\",\n  'tcp:7070',\n]\ndecisions = \"/x/{y}\"\n".utf8), path: "t.toml")
        #expect(try file.strings("listen") == ["unix:/tmp/{a}[b]", "tcp:7070"])
        #expect(try file.string("decisions") == "/x/{y}")
    }
}
