// Mistakes on the command line never crash prunerd: inputs that are not a
// readable stream or file (a directory, a socket file, a missing or unreadable
// path) get an error naming them and the reason, while a good input next to
// them is decided in full; pipe mode then exits 1. Also config files that are
// not files, and decision logs prunerd must not silently extend or create.
import Foundation
import PrunerIO
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("mistaken input", .serialized)
struct MistakenInputTests {
    static let options = ["--clusters", "2", "--warmup", "4", "--recompute-every", "4", "--lookahead", "0"]

    /// A small good input file of `count` records.
    func goodFile(in directory: URL, count: Int = 12) throws -> URL {
        var data = Data()
        for i in 0..<count { data += Handmade.prn1("g\(i)", Handmade.randomVector(i, dimension: 8)) }
        let url = directory.appendingPathComponent("good.prn1")
        try data.write(to: url)
        return url
    }

    func makeSocketFile(at path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes.prefix(raw.count - 1))
        }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return fd
    }

    @Test("a directory, a socket file and a missing path: each named with its reason, the good input decided, exit 1")
    func unreadableKinds() throws {
        let directory = TestPaths.temporaryDirectory()
        let good = try goodFile(in: directory)
        let socketPath = directory.appendingPathComponent("s.sock").path
        let socketFD = makeSocketFile(at: socketPath)
        defer { close(socketFD) }
        let missing = directory.appendingPathComponent("missing.lz4").path
        let result = try runProcess(TestPaths.prunerd,
            ["serve", directory.path, socketPath, missing, "/dev/null", good.path, "--decisions", "-"] + Self.options)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(!result.stderr.contains("crashed"))
        #expect(result.stderr.contains("input file:\(directory.path) not opened: \(directory.path) is a directory"))
        #expect(result.stderr.contains("input file:\(socketPath) not opened: \(socketPath) is a unix socket"))
        #expect(result.stderr.contains("--listen unix:\(socketPath)"))
        #expect(result.stderr.contains("input file:\(missing) not opened: \(missing): no such file or directory"))
        #expect(result.stderr.contains("inputs closed on error: 3"))
        let lines = parseDecisions(result.stdout)
        #expect(lines.count == 12)
        #expect(Set(lines.map(\.id)) == Set((0..<12).map { "g\($0)" }))
    }

    @Test("endless devices (/dev/zero as a file and as stdin, /dev/full): closed at their first byte, named; the good input decided")
    func endlessDevices() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = try goodFile(in: directory)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec \"$0\" \"$@\" < /dev/zero", TestPaths.prunerd, "serve", "/dev/zero", "/dev/full", "-", good.path,
                             "--decisions", directory.appendingPathComponent("d.jsonl").path] + Self.options
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 1, "\(text)")
        for name in ["file:/dev/zero", "file:/dev/full", "stdin"] {
            #expect(text.contains("input \(name) closed: record error at decompressed byte offset 0: unknown record encoding: unrecognised data (first byte 0x00)"),
                    "\(name): \(text)")
        }
        #expect(text.contains("inputs closed on error: 3"))
        #expect(parseDecisions(try Data(contentsOf: directory.appendingPathComponent("d.jsonl"))).count == 12)
    }

    @Test("stdin redirected from a directory is an error naming stdin, not SIGABRT")
    func standardInputDirectory() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec \"$0\" serve - --decisions - < /tmp", TestPaths.prunerd]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 1, "\(text)")
        #expect(text.contains("input stdin not opened: stdin is a directory"), "\(text)")
    }

    /// Tests run as root, who reads any file: the unreadable file is read by prunerd
    /// running as `nobody` (setpriv drops the user, group and supplementary groups).
    @Test("a file without read permission: named, EACCES, the good input decided",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func unreadableFile() throws {
        let directory = TestPaths.temporaryDirectory()
        chmod(directory.path, 0o755)
        let good = try goodFile(in: directory)
        chmod(good.path, 0o644)
        let secret = directory.appendingPathComponent("secret.prn1")
        try Data(Handmade.prn1("s", Handmade.vector(1))).write(to: secret)
        chmod(secret.path, 0o600)
        // The binary's own directory may not be traversable by nobody: run a copy.
        let binary = directory.appendingPathComponent("prunerd").path
        try FileManager.default.copyItem(atPath: TestPaths.prunerd, toPath: binary)
        let result = try runProcess("/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", binary, "serve", secret.path, good.path,
             "--decisions", "-", "--state-dir", directory.appendingPathComponent("state").path] + Self.options)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("input file:\(secret.path) not opened: \(secret.path): permission denied (EACCES in open)"),
                "\(result.stderr)")
        #expect(parseDecisions(result.stdout).count == 12)
    }

    @Test("--config naming a directory or a missing file: a configuration error naming it")
    func configNotAFile() throws {
        let directory = TestPaths.temporaryDirectory()
        for path in [directory.path, directory.appendingPathComponent("none.toml").path] {
            let result = try runProcess(TestPaths.prunerd, ["serve", "--config", path, "--check-config"])
            #expect(result.status != 0)
            #expect(result.stderr.contains("configuration \(path): cannot be read"), "\(result.stderr)")
            #expect(!result.stderr.contains("crashed"))
        }
        let garbage = directory.appendingPathComponent("garbage.toml")
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }).write(to: garbage)
        let result = try runProcess(TestPaths.prunerd, ["serve", "--config", garbage.path, "--check-config"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("configuration \(garbage.path):"), "\(result.stderr)")
    }

    @Test("--centroids with a value that is not finite or a row of zeros: an error naming the file, row and column; serve and offline")
    func centroidsNotUsable() throws {
        let directory = TestPaths.temporaryDirectory()
        let good = try goodFile(in: directory)
        var values = (0..<16).map { Float($0 % 5) - 2 }
        for (name, at, value, message) in [("nan", 11, Float.nan, "row 1, column 3 is nan, not a finite number"),
                                           ("inf", 4, -Float.infinity, "row 0, column 4 is -inf, not a finite number"),
                                           ("zero", -1, 0, "row 1 is all zeros: a centroid needs a direction")] {
            var bad = values
            if at >= 0 { bad[at] = value } else { for t in 8..<16 { bad[t] = 0 } }
            let file = directory.appendingPathComponent("\(name).npy")
            try Data(NPYArray.encodeFloat32(rows: 2, columns: 8, values: bad)).write(to: file)
            for command in ["serve", "offline"] {
                let result = try runProcess(TestPaths.prunerd, [command, good.path, "--centroids", file.path,
                    "--decisions", directory.appendingPathComponent("\(name)-\(command).jsonl").path] + Self.options)
                #expect(result.status != 0, "\(command) \(name)")
                #expect(result.stderr.contains("--centroids \(file.path): \(message)"), "\(command): \(result.stderr)")
            }
        }
        values[0] = 3
        let usable = directory.appendingPathComponent("usable.npy")
        try Data(NPYArray.encodeFloat32(rows: 2, columns: 8, values: values)).write(to: usable)
        let result = try runProcess(TestPaths.prunerd, ["serve", good.path, "--centroids", usable.path,
            "--decisions", "-"] + Self.options)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(parseDecisions(result.stdout).count == 12)
    }

    @Test("--centroids whose rows are not --clusters: serve and offline both refuse, naming the file and both counts")
    func centroidsOfAnotherClusterCount() throws {
        let directory = TestPaths.temporaryDirectory()
        let good = try goodFile(in: directory)
        let file = directory.appendingPathComponent("three.npy")
        try Data(NPYArray.encodeFloat32(rows: 3, columns: 8, values: (0..<24).map { Float($0 % 7) - 3 })).write(to: file)
        for command in ["serve", "offline"] {
            let log = directory.appendingPathComponent("three-\(command).jsonl")
            let result = try runProcess(TestPaths.prunerd, [command, good.path, "--centroids", file.path,
                "--decisions", log.path] + Self.options)
            #expect(result.status != 0, "\(command)")
            #expect(result.stderr.contains("--centroids \(file.path): 3 rows, but --clusters is 2"), "\(command): \(result.stderr)")
            let written = (try? Data(contentsOf: log)) ?? Data()
            #expect(written.isEmpty, "\(command) wrote decisions")
        }
    }

    @Test("--decisions into a missing directory is an error naming the directory; nothing is created")
    func decisionLogDirectoryMissing() throws {
        let directory = TestPaths.temporaryDirectory()
        let good = try goodFile(in: directory)
        let missing = directory.appendingPathComponent("no/such")
        let result = try runProcess(TestPaths.prunerd,
            ["serve", good.path, "--decisions", missing.appendingPathComponent("d.jsonl").path] + Self.options)
        #expect(result.status != 0)
        #expect(result.stderr.contains("directory \(missing.path) does not exist"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("no").path))
        let isDirectory = try runProcess(TestPaths.prunerd, ["serve", good.path, "--decisions", directory.path] + Self.options)
        #expect(isDirectory.status != 0)
        #expect(isDirectory.stderr.contains("decision log \(directory.path) is a directory"), "\(isDirectory.stderr)")
    }

    @Test("a second run on a decision log that holds lines is refused, naming --append and --overwrite; each does what it says")
    func existingDecisionLog() throws {
        let directory = TestPaths.temporaryDirectory()
        let good = try goodFile(in: directory)
        let log = directory.appendingPathComponent("d.jsonl").path
        let command = ["serve", good.path, "--decisions", log] + Self.options
        #expect(try runProcess(TestPaths.prunerd, command).status == 0)
        let refused = try runProcess(TestPaths.prunerd, command)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("decision log \(log) already holds"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--append") && refused.stderr.contains("--overwrite"))
        #expect(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log))).count == 12)

        #expect(try runProcess(TestPaths.prunerd, command + ["--append"]).status == 0)
        #expect(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log))).count == 24)
        #expect(try runProcess(TestPaths.prunerd, command + ["--overwrite"]).status == 0)
        #expect(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log))).count == 12)
        let both = try runProcess(TestPaths.prunerd, command + ["--append", "--overwrite"])
        #expect(both.status != 0)
        #expect(both.stderr.contains("exclude each other"), "\(both.stderr)")

        // The configuration file's keys do the same.
        let config = directory.appendingPathComponent("p.toml")
        try Data("append = true\n".utf8).write(to: config)
        #expect(try runProcess(TestPaths.prunerd, command + ["--config", config.path]).status == 0)
        #expect(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log))).count == 24)
    }

    @Test("the refusal of a log that holds lines says why nothing was resumed: no checkpoint, checkpoints off, or one that did not restore")
    func existingDecisionLogSaysWhyNothingResumed() throws {
        let directory = TestPaths.temporaryDirectory()
        let good = try goodFile(in: directory)
        let log = directory.appendingPathComponent("d.jsonl").path
        let state = directory.appendingPathComponent("state").path
        let command = ["serve", good.path, "--decisions", log, "--state-dir", state] + Self.options
        let first = try runProcess(TestPaths.prunerd, command + ["--checkpoint-every", "0"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(FileManager.default.fileExists(atPath: state + "/checkpoint.prnckpt"))

        let off = try runProcess(TestPaths.prunerd, command)
        #expect(off.status != 0)
        #expect(off.stderr.contains("checkpoints are off for this run, so \(state)/checkpoint.prnckpt is not resumed from"), "\(off.stderr)")

        let fresh = try runProcess(TestPaths.prunerd, command + ["--checkpoint-every", "0", "--fresh"])
        #expect(fresh.status != 0)
        #expect(fresh.stderr.contains("--fresh starts without the checkpoint"), "\(fresh.stderr)")

        // Written under --clusters 2: a start with 3 is refused, and the checkpoint stays where the
        // corrected command finds it.
        let other = try runProcess(TestPaths.prunerd, command.map { $0 == "2" ? "3" : $0 } + ["--checkpoint-every", "0"])
        #expect(other.status != 0)
        #expect(other.stderr.contains("its checkpoint was not restored (") && other.stderr.contains("--clusters 2 in checkpoint, 3 configured")
                    && other.stderr.contains("it is left at \(state)/checkpoint.prnckpt, for a start with the options it was written under"),
                "\(other.stderr)")
        #expect(FileManager.default.fileExists(atPath: state + "/checkpoint.prnckpt"))
        #expect(!FileManager.default.fileExists(atPath: state + "/checkpoint.prnckpt.rejected"))
        #expect(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log))).count == 12)
        let corrected = try runProcess(TestPaths.prunerd, command + ["--checkpoint-every", "0"])
        #expect(corrected.status == 0, "\(corrected.stderr)")
        #expect(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log))).count == 12, "resumed: nothing decided twice")

        // When the run does start (here: --overwrite), the checkpoint that did not restore is moved aside.
        let anew = try runProcess(TestPaths.prunerd, command.map { $0 == "2" ? "3" : $0 } + ["--checkpoint-every", "0", "--overwrite"])
        #expect(anew.status == 0, "\(anew.stderr)")
        #expect(anew.stderr.contains("moved to \(state)/checkpoint.prnckpt.rejected, starting fresh"), "\(anew.stderr)")
        #expect(FileManager.default.fileExists(atPath: state + "/checkpoint.prnckpt.rejected"))

        try FileManager.default.removeItem(atPath: state + "/checkpoint.prnckpt")
        let none = try runProcess(TestPaths.prunerd, command + ["--checkpoint-every", "0"])
        #expect(none.status != 0)
        #expect(none.stderr.contains("there is no checkpoint to resume from"), "\(none.stderr)")
    }

    @Test("a second daemon on a state directory in use is refused, naming it and the holder's pid, and writes nothing; once the first has exited it starts")
    func stateDirectoryInUse() throws {
        let directory = TestPaths.temporaryDirectory()
        let state = directory.appendingPathComponent("state").path
        let good = try goodFile(in: directory)
        let first = try BackgroundDaemon(arguments: ["serve", "--listen", "unix:" + directory.appendingPathComponent("in.sock").path,
                                                     "--state-dir", state, "--decisions", directory.appendingPathComponent("first.jsonl").path]
                                         + Self.options)
        #expect(first.waitForLog("listening on unix:"), "\(first.stderr)")
        let second = directory.appendingPathComponent("second.jsonl").path
        let command = ["serve", good.path, "--state-dir", state, "--checkpoint-every", "0", "--decisions", second] + Self.options
        let refused = try runProcess(TestPaths.prunerd, command)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("state directory \(state) is in use by another prunerd (pid \(first.process.processIdentifier))"
                                        + ": its checkpoint and control socket belong to that daemon; give each daemon its own --state-dir"),
                "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: second), "the refused daemon wrote no decision log")
        #expect(first.terminate() == 0)
        let started = try runProcess(TestPaths.prunerd, command)
        #expect(started.status == 0, "\(started.stderr)")
        #expect(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: second))).count == 12)
    }
}
