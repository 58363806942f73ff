// The command line as a user first meets it: --version, help that wraps as
// paragraphs at the terminal's width, defaults stated with reasons, and a status
// command that says where it looked.
import Foundation
import Testing

@Suite("help text")
struct HelpTextTests {
    @Test("--version names the release and the wire format")
    func version() throws {
        let result = try runProcess(TestPaths.prunerd, ["--version"])
        #expect(result.status == 0)
        #expect(String(decoding: result.stdout, as: UTF8.self).hasPrefix("prunerd 0."))
        #expect(String(decoding: result.stdout, as: UTF8.self).contains("PRN1 wire format version 1"))
    }

    @Test("discussions wrap as paragraphs at 80 columns; every default is stated", arguments: ["serve", "offline", "fidelity", "encode", "decode", "kept"])
    func wraps(_ command: String) throws {
        let result = try runProcess(TestPaths.prunerd, [command, "--help"], environment: ["COLUMNS": "80"])
        let text = String(decoding: result.stdout, as: UTF8.self)
        #expect(!text.contains("default see README"))
        // The overview paragraph: every line but its last fills most of the width (no hard breaks mid-sentence).
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let start = lines.firstIndex(where: { $0.hasPrefix("OVERVIEW:") }), start + 2 < lines.count, !lines[start + 1].isEmpty || true {
            var paragraph: [String] = []
            for line in lines[(start + 2)...] {
                if line.isEmpty { break }
                paragraph.append(line)
            }
            for line in paragraph.dropLast() {
                #expect(line.count >= 60, "\(command): short line inside a paragraph: '\(line)'")
            }
        }
        for line in lines where !line.hasPrefix("USAGE:") { #expect(line.count <= 80, "\(command): '\(line)'") }
    }

    @Test("status without a daemon says where it looked and how to point it elsewhere")
    func statusWithoutDaemon() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try runProcess(TestPaths.prunerd, ["status", "--state-dir", directory.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("no daemon answers on \(directory.path)/control.sock"), "\(result.stderr)")
        #expect(result.stderr.contains("looked at: $RUNTIME_DIRECTORY (unset); control.sock in --state-dir \(directory.path)"), "\(result.stderr)")
        #expect(result.stderr.contains("--control PATH") && result.stderr.contains("--state-dir DIR"))
        #expect(!result.stderr.contains("Usage:"), "a missing daemon is not a usage error")
    }
}
