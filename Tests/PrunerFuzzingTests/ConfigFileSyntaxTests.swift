// The configuration reader (FlatTOMLParser, which replaced TOMLKit): what it
// accepts of TOML, and every way it refuses a file, each naming the file, the
// line, the column and the reason.
import Foundation
import PrunerConfig
import Testing

@Suite struct ConfigFileSyntaxTests {
    func parse(_ text: String) throws -> ConfigFile {
        try ConfigFile.parse(Array(text.utf8), path: "t.toml")
    }

    /// The error `text` gives, as the operator reads it.
    func message(_ text: String) -> String {
        do {
            _ = try parse(text)
            return "parsed"
        } catch {
            return "\(error)"
        }
    }

    @Test func acceptsTheFlatSubsetOfTOML() throws {
        let file = try parse("\u{FEFF}# a comment\r\nkeep = \"easy\" # after a value\n\t\"seed\" = 0xDEAD_beef\r\n")
        #expect(try file.string("keep") == "easy")
        #expect(try file.unsigned("seed") == 0xDEAD_BEEF)

        let numbers = try parse("""
            warmup = +1_000
            clusters = 0o17
            neighbors = 0b101
            lookahead = 0
            keep-ratio = 3.5e-1
            temperature = 1E2
            min-per-cluster = -0.0
            dedup-threshold = 6_0.2_5
            drift-quantile = inf
            min-score = -nan
            """)
        #expect(try numbers.int("warmup") == 1000)
        #expect(try numbers.int("clusters") == 15)
        #expect(try numbers.int("neighbors") == 5)
        #expect(try numbers.int("lookahead") == 0)
        #expect(try numbers.double("keep-ratio") == 0.35)
        #expect(try numbers.double("temperature") == 100)
        #expect(try numbers.double("min-per-cluster") == 0)
        #expect(try numbers.double("dedup-threshold") == 60.25)
        #expect(try numbers.double("drift-quantile") == .infinity)
        #expect(try numbers.double("min-score")?.isNaN == true)

        let strings = try parse(#"""
            decisions = "tab\there \"q\" back\\slash \u00E9 \U0001F600 \b\f\n\r"
            control = 'C:\no\escapes "here"'
            listen = [ # comment in a list
              "unix:/a",

              'tcp:7070', # trailing comma next
            ]
            metrics = []
            log-level = ""
            """#)
        #expect(try strings.string("decisions") == "tab\there \"q\" back\\slash é 😀 \u{8}\u{C}\n\r")
        #expect(try strings.string("control") == #"C:\no\escapes "here""#)
        #expect(try strings.strings("listen") == ["unix:/a", "tcp:7070"])
        #expect(try strings.strings("metrics") == [])
        #expect(try strings.string("log-level") == "")
        #expect(try parse("").string("keep") == nil)
        #expect(try parse("\n\n# only comments\n").string("keep") == nil)
        #expect(try parse("fresh = false").bool("fresh") == false)  // no final newline
    }

    @Test func theShippedConfigurationParsesAndEveryExampleInItToo() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../systemd/prunerd.toml").standardized
        let text = try String(contentsOf: url, encoding: .utf8)
        _ = try parse(text)
        // Uncommented one by one, each `#key = value` example line must parse too.
        for line in text.split(separator: "\n") where line.hasPrefix("#") && line.contains(" = ") && !line.hasPrefix("# ") {
            let example = String(line.dropFirst())
            #expect(throws: Never.self, "\(example)") { _ = try parse(example + "\n") }
        }
    }

    @Test func syntaxErrorsNameLineColumnAndReason() {
        let cases: [(String, String)] = [
            ("keep = 'hard'\nclusters = = 3\n", "line 2: expected a value for 'clusters' (a string in quotes, a number, true, false or a list), found '=' (column 12)"),
            ("seed 3\n", "line 1: expected '=' after the key 'seed', found '3' (column 6)"),
            ("= 3\n", "line 1: expected a key (letters, digits, '-' and '_'), found '=' (column 1)"),
            ("seed =\n", "line 1: expected a value after '=' for 'seed', found the end of the line (column 7)"),
            ("seed = # none\n", "line 1: expected a value after '=' for 'seed', found '#' (column 8)"),
            ("seed =", "line 1: expected a value after '=' for 'seed', found the end of the file (column 7)"),
            ("seed = 3 4\n", "line 1: expected the end of the line after the value of 'seed', found '4' (column 10)"),
            ("seed = 3\nseed = 4\n", "line 2: 'seed' is set twice; first at line 1, column 1 (column 1)"),
            ("serve.seed = 3\n", "line 1: dotted keys are not supported (they are tables): keys are the long options of prunerd serve, at the top level (column 6)"),
            ("  [serve]\n", "line 1: tables are not supported: keys are the long options of prunerd serve, at the top level (column 3)"),
            ("keep = {a = 1}\n", "line 1: inline tables are not supported: keys are the long options of prunerd serve, at the top level (column 8)"),
            ("seed = 3\rkeep = 'x'\n", "line 1: a carriage return not followed by a line feed (column 9)"),
            ("# bell \u{7}\n", "line 1: a control character (byte 0x7) in a comment (column 8)"),
            ("keep = hard\n", "line 1: 'hard' is not a value: a string needs quotes (\"hard\"), a boolean is true or false (column 8)"),
            ("keep = True\n", "line 1: 'True' is not a value: a string needs quotes (\"True\"), a boolean is true or false (column 8)"),
            ("keep = é\n", "line 1: expected a value for 'keep' (a string in quotes, a number, true, false or a list), found byte 0xc3 (column 8)"),
        ]
        for (text, expected) in cases {
            #expect(message(text) == "configuration t.toml: " + expected, "\(text.debugDescription)")
        }
    }

    @Test func stringErrors() {
        let cases: [(String, String)] = [
            ("keep = \"open\n", "line 1: the string is not closed with '\"' before the end of the line (column 8)"),
            ("keep = \"open", "line 1: the string is not closed with '\"' (column 8)"),
            ("keep = 'open\n", "line 1: the string is not closed with \"'\" before the end of the line (column 8)"),
            ("keep = 'open", "line 1: the string is not closed with \"'\" (column 8)"),
            ("keep = \"a\\qb\"\n", "line 1: '\\q' is not a TOML escape (\\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX; a Windows path goes in 'single quotes') (column 10)"),
            ("keep = \"\\", "line 1: the string ends in a lone '\\' (column 9)"),
            ("keep = \"\\u12\"\n", "line 1: '\\u' needs 4 hexadecimal digits (column 9)"),
            ("keep = \"\\u+123\"\n", "line 1: '\\u' needs 4 hexadecimal digits (column 9)"),
            ("keep = \"\\uD800\"\n", "line 1: '\\uD800' is not a Unicode scalar value (column 9)"),
            ("keep = \"\\U00110000\"\n", "line 1: '\\U110000' is not a Unicode scalar value (column 9)"),
            ("keep = \"a\u{1}\"\n", "line 1: a control character (byte 0x1) in a string; write it as an escape such as \\u0001 (column 10)"),
            ("keep = 'a\u{7F}'\n", "line 1: a control character (byte 0x7f) in a string (column 10)"),
            ("keep = \"\"\"x\"\"\"\n", "line 1: multi-line strings (\"\"\") are not supported: write the value on one line (column 8)"),
            ("keep = '''x'''\n", "line 1: multi-line strings (''') are not supported: write the value on one line (column 8)"),
            ("\"seed\n", "line 1: the string is not closed with '\"' before the end of the line (column 1)"),
        ]
        for (text, expected) in cases {
            #expect(message(text) == "configuration t.toml: " + expected, "\(text.debugDescription)")
        }
    }

    @Test func numberErrors() {
        let cases: [(String, String)] = [
            ("seed = 9223372036854775808\n", "'9223372036854775808' does not fit in a 64-bit signed integer"),
            ("seed = 0x1_0000_0000_0000_0000\n", "'0x1_0000_0000_0000_0000' does not fit in a 64-bit signed integer"),
            ("seed = -0x10\n", "'-0x10': a hexadecimal integer has no sign"),
            ("seed = 0o8\n", "'0o8' is not a TOML number"),
            ("seed = 012\n", "'012': leading zeros are not allowed"),
            ("seed = 1__0\n", "'1__0' is not a TOML number"),
            ("seed = _1\n", "'_1' is not a TOML number"),
            ("seed = 1_\n", "'1_' is not a TOML number"),
            ("seed = +\n", "'+' is not a TOML number"),
            ("keep-ratio = .5\n", "'.5' is not a TOML number"),
            ("keep-ratio = 5.\n", "'5.' is not a TOML number"),
            ("keep-ratio = 1.5.3\n", "'1.5.3' is not a TOML number"),
            ("keep-ratio = 1e\n", "'1e' is not a TOML number"),
            ("keep-ratio = 1e400\n", "'1e400' is out of the range of a 64-bit float"),
            ("keep-ratio = infinity\n", "'infinity' is not a value: a string needs quotes (\"infinity\"), a boolean is true or false"),
        ]
        for (text, expected) in cases {
            let column = text.distance(from: text.startIndex, to: text.firstIndex(of: "=")!) + 3
            #expect(message(text) == "configuration t.toml: line 1: \(expected) (column \(column))", "\(text.debugDescription)")
        }
    }

    @Test func listErrors() {
        let cases: [(String, String)] = [
            ("listen = ['a'\n", "line 1: the list of 'listen' is not closed with ']' (column 10)"),
            ("listen = [\n  'a',\n", "line 1: the list of 'listen' is not closed with ']' (column 10)"),
            ("listen = ['a' 'b']\n", "line 1: expected ',' or ']' in the list of 'listen', found ''' (column 15)"),
            ("listen = ['a', 3]\n", "line 1: 'listen' must be a list of strings (column 16)"),
            ("listen = [\n  ['a'],\n]\n", "line 2: 'listen' must be a list of strings, not of lists (column 3)"),
            ("listen = ['a',,]\n", "line 1: expected a value for 'listen' (a string in quotes, a number, true, false or a list), found ',' (column 15)"),
            ("listen = [1979-05-27]\n", "line 1: 'listen' has an unsupported type: a date or time (prunerd's options are strings, numbers, true/false and lists of strings) (column 11)"),
        ]
        for (text, expected) in cases {
            #expect(message(text) == "configuration t.toml: " + expected, "\(text.debugDescription)")
        }
    }

    @Test func datesAndTimesAreRefusedByName() {
        #expect(message("seed = 07:32:00\n") == "configuration t.toml: line 1: 'seed' has an unsupported type: a date or time (prunerd's options are strings, numbers, true/false and lists of strings) (column 8)")
        #expect(message("seed = 1979-05-27 07:32:00\n").contains("'seed' has an unsupported type: a date or time"))
        #expect(message("x = 1\nseed = 1979-05-27Tz\n") == "configuration t.toml: line 2: a date-time needs HH:MM after its 'T'; 'seed' cannot be a date anyway (column 18)")
    }

    @Test func wholeFileErrorsNameWhere() {
        #expect(message("seed = 1\nkeep = '\u{0}'\n") == "configuration t.toml: line 2: a NUL byte (byte offset 17); a configuration file is TOML text (column 9)")
        #expect { try ConfigFile.parse([0x6B, 0x3D, 0xFF], path: "t.toml") } throws: { error in
            "\(error)" == "configuration t.toml: not UTF-8 text; a configuration file is TOML text"
        }
        // Columns count characters, not bytes.
        #expect(message("keep = 'é' x\n") == "configuration t.toml: line 1: expected the end of the line after the value of 'keep', found 'x' (column 12)")
    }
}
