// Progress as a user sees it: a tqdm-style line on a real terminal (a pty made
// by Python's pty module), nothing when stderr is a pipe, and the warm-up as a
// gauge in `prunerd status` and /metrics.
import Foundation
import Testing

@Suite("progress", .serialized)
struct ProgressTests {
    /// Runs a command with stderr on a fresh pty; prints what the terminal got.
    static let ptyRunner = """
        import os, pty, subprocess, sys, select
        master, slave = pty.openpty()
        p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        out = b''
        while True:
            r, _, _ = select.select([master], [], [], 60)
            if not r: break
            try: chunk = os.read(master, 65536)
            except OSError: break
            if not chunk: break
            out += chunk
        sys.stdout.write(out.decode('utf-8', 'replace'))
        sys.exit(p.wait())
        """

    static func matrix(in directory: URL) throws -> String {
        let script = "import numpy as np; np.save('m.npy', np.random.default_rng(2).standard_normal((20000, 16)).astype(np.float16))"
        try #require(try runProcess("/bin/sh", ["-c", "cd '\(directory.path)' && python3 -c \"$0\"", script]).status == 0)
        return directory.appendingPathComponent("m.npy").path
    }

    @Test("offline, serve and encode draw a progress line on a terminal", arguments: ["offline", "serve", "encode"])
    func onTerminal(_ command: String) throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let matrix = try Self.matrix(in: directory)
        let output = command == "encode" ? ["-o", directory.appendingPathComponent("m.prn1.lz4").path]
            : ["--decisions", directory.appendingPathComponent("d.jsonl").path, "--clusters", "8", "--warmup", "2000", "--log-level", "warning"]
        let result = try runProcess("/usr/bin/env", ["python3", "-c", Self.ptyRunner, TestPaths.prunerd, command, matrix] + output)
        #expect(result.status == 0, "\(result.stderr)")
        let terminal = String(decoding: result.stdout, as: UTF8.self)
        #expect(terminal.contains("\r100%|████████████████████|"), "\(terminal)")
        #expect(terminal.contains("20000 records") || terminal.contains("20k records"), "\(terminal)")
        if command != "encode" { #expect(terminal.contains("kept 30.0%"), "\(terminal)") }
    }

    @Test("nothing is drawn when stderr is not a terminal")
    func notOnTerminal() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let matrix = try Self.matrix(in: directory)
        let result = try runProcess(TestPaths.prunerd, ["offline", matrix, "--decisions", directory.appendingPathComponent("d.jsonl").path,
                                                        "--clusters", "8", "--log-level", "warning"])
        #expect(result.status == 0)
        #expect(!result.stderr.contains("\r") && !result.stderr.contains("%|"), "\(result.stderr)")
        #expect(result.stderr.hasPrefix("records: 20000"))
    }

    @Test("the warm-up is a gauge in status and /metrics")
    func warmupGauge() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("in.sock").path
        let control = directory.appendingPathComponent("control.sock").path
        let port = SocketClient.freePort()
        let daemon = try BackgroundDaemon(arguments: [
            "serve", "--listen", "unix:\(socket)", "--decisions", directory.appendingPathComponent("d.jsonl").path,
            "--state-dir", directory.path, "--control", control, "--metrics", "tcp:127.0.0.1:\(port)",
            "--clusters", "4", "--warmup", "1000", "--lookahead", "500", "--log-level", "info"])
        #expect(daemon.waitForLog("metrics on"))
        let records = (0..<300).reduce(Data()) { $0 + Handmade.prn1("w\($1)", Handmade.randomVector($1)) }
        _ = try SocketClient.sendUnix(path: socket, data: records)
        var document: [String: Any] = [:]
        try waitUntil("status to report 300 warm-up records", poll: 0.05) {
            let status = try runProcess(TestPaths.prunerd, ["status", "--control", control])
            document = (try? JSONSerialization.jsonObject(with: status.stdout) as? [String: Any]) ?? [:]
            return document["warmup_records"] as? Int == 300
        }
        #expect(document["warmup_records"] as? Int == 300, "\(document)")
        #expect(document["warmup_target"] as? Int == 1000)
        let http = String(decoding: try SocketClient.sendTCP(port: port, data: Data("GET /metrics HTTP/1.1\r\n\r\n".utf8), readReply: true),
                          as: UTF8.self)
        #expect(http.contains("prunerd_warmup_records 300"), "\(http)")
        #expect(http.contains("prunerd_warmup_target 1000"))
        #expect(daemon.terminate() == 0)
    }
}
