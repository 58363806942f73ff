// The systemd units and the install script, checked with the real tools:
// systemd-analyze's offline security score and verify, and an install into a
// staging directory with the binary these tests run.
import Foundation
import Testing

@Suite("packaging")
struct PackagingTests {
    static let units = TestPaths.packageRoot.appendingPathComponent("systemd")

    @Test("systemd-analyze security: overall exposure of prunerd.service ≤ 2.0")
    func exposure() throws {
        let result = try runProcess("/usr/bin/systemd-analyze",
                                    ["security", "--offline=true", Self.units.appendingPathComponent("prunerd.service").path])
        let text = String(decoding: result.stdout, as: UTF8.self) + result.stderr
        let line = text.split(separator: "\n").first { $0.contains("Overall exposure level") }
        let score = line.flatMap { $0.split(separator: ":").last?.split(separator: " ").first }.flatMap { Double($0) }
        #expect(score != nil, "no score in: \(text.suffix(400))")
        #expect((score ?? 10) <= 2.0, "exposure \(score ?? -1)")
    }

    @Test("systemd-analyze verify is clean for the units with ExecStart pointing at the built binary")
    func verify() throws {
        let directory = TestPaths.temporaryDirectory()
        for name in ["prunerd.service", "prunerd.socket", "prunerd-reply.socket"] {
            let text = try String(contentsOf: Self.units.appendingPathComponent(name), encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/prunerd", with: TestPaths.prunerd)
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let result = try runProcess("/usr/bin/systemd-analyze", ["verify"] + ["prunerd.service", "prunerd.socket", "prunerd-reply.socket"]
            .map { directory.appendingPathComponent($0).path })
        // Lines about units outside ours (the host's own configuration) are not our concern.
        let ours = result.stderr.split(separator: "\n").filter { $0.contains("prunerd") }
        #expect(result.status == 0 && ours.isEmpty, "\(result.stderr)")
    }

    @Test("scripts/install stages binary, units, configuration and logrotate rule under DESTDIR")
    func install() throws {
        let destination = TestPaths.temporaryDirectory()
        let result = try runProcess("/bin/bash", [TestPaths.packageRoot.appendingPathComponent("scripts/install").path,
                                                  "--destdir", destination.path, "--binary", TestPaths.prunerd])
        #expect(result.status == 0, "\(result.stderr)")
        for path in ["usr/local/bin/prunerd", "etc/systemd/system/prunerd.service", "etc/systemd/system/prunerd.socket",
                     "etc/prunerd/prunerd.toml", "etc/logrotate.d/prunerd"] {
            #expect(FileManager.default.fileExists(atPath: destination.appendingPathComponent(path).path), "\(path) missing")
        }
        #expect(FileManager.default.isExecutableFile(atPath: destination.appendingPathComponent("usr/local/bin/prunerd").path))
        // The installed example configuration is one prunerd accepts as it is.
        let config = destination.appendingPathComponent("etc/prunerd/prunerd.toml").path
        let check = try runProcess(TestPaths.prunerd, ["serve", "--config", config, "--check-config"])
        #expect(check.status == 0, "\(check.stderr)")
    }

    @Test("every key of the example configuration, uncommented, is known and well typed")
    func exampleConfigurationKeys() throws {
        let example = try String(contentsOf: Self.units.appendingPathComponent("prunerd.toml"), encoding: .utf8)
        var seen = Set<String>()
        var uncommented: [String] = []
        // Settings are written `#key = value`; prose comments start with "# ".
        for line in example.split(separator: "\n") where line.hasPrefix("#") && !line.hasPrefix("# ") && line.contains(" = ") {
            let assignment = line.dropFirst()
            guard let key = assignment.split(separator: " ").first, key.allSatisfy({ $0.isLetter || $0 == "-" }),
                  seen.insert(String(key)).inserted else { continue }
            uncommented.append(String(assignment))
        }
        #expect(uncommented.count >= 15, "found \(uncommented.count) example settings")
        let file = TestPaths.temporaryDirectory().appendingPathComponent("all.toml")
        try uncommented.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        let check = try runProcess(TestPaths.prunerd, ["serve", "--config", file.path, "--check-config"])
        #expect(check.status == 0, "\(check.stderr)\n\(uncommented.joined(separator: "\n"))")
        #expect(String(decoding: check.stdout, as: UTF8.self).contains("configuration OK"))
    }
}
