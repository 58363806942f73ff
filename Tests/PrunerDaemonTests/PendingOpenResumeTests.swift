// A checkpoint taken after a restart while file inputs of the restored resume
// point are not open again yet keeps their recorded positions (cd59baa: before,
// such a checkpoint recorded none for them, and the next SIGKILL sent them back
// to record 0). Deterministic, without racing the checkpoint: with one libuv
// thread-pool thread (UV_THREADPOOL_SIZE=1) and a FIFO as the first input,
// opening the FIFO holds that thread until the test opens the FIFO's writing
// end, so the later inputs' opens wait behind it, and the periodic checkpoint
// is taken (its positions read on the loop thread) while they are pending.
import Foundation
import PrunerCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("resume of inputs not open yet", .serialized)
struct PendingOpenResumeTests {
    static func records(_ prefix: String, _ range: Range<Int>) -> Data {
        var data = Data()
        for i in range { data += Handmade.prn1("\(prefix)\(i)", Handmade.randomVector(i, dimension: 16)) }
        return data
    }

    /// Opens the FIFO's writing end once prunerd has it open for reading (a non-blocking open
    /// fails with ENXIO until then; 30 s at most), writes `data`, and closes it unless `keepOpen`;
    /// returns the descriptor when kept open.
    static func feed(_ fifo: String, _ data: Data, keepOpen: Bool = false) throws -> Int32 {
        var fd: Int32 = -1
        var openError: Int32 = 0
        _ = pollUntil(timeout: 30, poll: 0.01) {
            fd = open(fifo, O_WRONLY | O_NONBLOCK)
            openError = fd < 0 ? errno : 0
            return fd >= 0 || openError != ENXIO
        }
        try #require(fd >= 0, "no reader opened \(fifo) (errno \(openError))")
        _ = fcntl(fd, F_SETFL, 0)
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                precondition(written > 0, "write \(fifo): errno \(errno)")
                offset += written
            }
        }
        if keepOpen { return fd }
        close(fd)
        return -1
    }

    /// Waits for `process` to exit by itself (60 s at most, then SIGKILL): whether it did.
    static func exits(_ process: Process) -> Bool {
        _ = pollUntil(timeout: 60, poll: 0.01) { !process.isRunning }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationReason == .exit
    }

    @Test("a checkpoint taken while the later file inputs' opens wait keeps their positions; after a SIGKILL each resumes from it")
    func checkpointWhileOpensWait() throws {
        let work = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let fifo = work.appendingPathComponent("gate.fifo").path
        try #require(mkfifo(fifo, 0o600) == 0)
        let b = work.appendingPathComponent("b.prn1"), c = work.appendingPathComponent("c.prn1")
        try Self.records("b", 0..<1000).write(to: b)
        try Self.records("c", 0..<1000).write(to: c)
        let log = work.appendingPathComponent("d.jsonl").path
        let state = work.appendingPathComponent("state")
        let command = ["serve", fifo, b.path, c.path, "--decisions", log, "--state-dir", state.path,
                       "--checkpoint-every", "2", "--log-level", "debug",
                       "--clusters", "4", "--warmup", "200", "--lookahead", "100", "--max-hold", "0"]

        // Run 1: the FIFO brings 50 records and ends; b and c are read whole (checkpoint: 1000 and 1000).
        let first = try BackgroundDaemon(arguments: command)
        _ = try Self.feed(fifo, Self.records("f", 0..<50))
        try #require(Self.exits(first.process) && first.process.terminationStatus == 0, "\(first.stderr)")
        #expect(parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log))).count == 2050)

        // The files grow: their records after 1000 are new to the next run.
        let handle = try FileHandle(forWritingTo: b)
        try handle.seekToEnd()
        try handle.write(contentsOf: Self.records("b", 1000..<1500))
        try handle.close()
        let handleC = try FileHandle(forWritingTo: c)
        try handleC.seekToEnd()
        try handleC.write(contentsOf: Self.records("c", 1000..<1300))
        try handleC.close()

        // Run 2: the only pool thread waits in the FIFO's open; b's and c's opens wait behind it.
        // The periodic checkpoint (2 s) is taken then; once taken, the FIFO is opened (its writer
        // stays open, so the run goes on), the opens and the checkpoint's write follow in order,
        // and the run is SIGKILLed as soon as that checkpoint is written (the next is 2 s away).
        let second = try BackgroundDaemon(arguments: command, environment: ["UV_THREADPOOL_SIZE": "1"])
        #expect(second.waitForLog("checkpoint taken:"), "\(second.stderr)")
        let writer = try Self.feed(fifo, Data(), keepOpen: true)
        #expect(second.waitForLog("checkpoint written"), "\(second.stderr)")
        kill(second.process.processIdentifier, SIGKILL)
        second.process.waitUntilExit()
        close(writer)
        #expect(!second.stderr.contains("error prunerd"), "\(second.stderr)")
        #expect(second.stderr.components(separatedBy: "checkpoint taken").count == 2, "one checkpoint in run 2: \(second.stderr)")

        // That checkpoint holds both files at their recorded positions (before the fix: neither).
        let point = try ResumePoint(decoding: [UInt8](try Data(contentsOf: state.appendingPathComponent("checkpoint.prnckpt"))))
        let positions = Dictionary(point.files.map { ($0.name, $0.records) }, uniquingKeysWith: { $1 })
        #expect(positions == ["file:\(b.path)": 1000, "file:\(c.path)": 1000], "\(point.files)")

        // Run 3, the same command: each file resumes after its 1000 records and reads only its new ones.
        let third = try BackgroundDaemon(arguments: command)
        _ = try Self.feed(fifo, Data())
        #expect(Self.exits(third.process) && third.process.terminationStatus == 0, "\(third.stderr)")
        for input in [b, c] {
            #expect(third.stderr.contains("input file:\(input.path) resumes after record 1000"), "\(third.stderr)")
        }
        let lines = parseDecisions(try Data(contentsOf: URL(fileURLWithPath: log)))
        for (input, count) in [(b, 1500), (c, 1300)] {
            let seqs = lines.filter { $0.src == "file:\(input.path)" }.map(\.seq)
            let once = seqs.count == count && Set(seqs) == Set(0..<count)
            #expect(once, "\(input.lastPathComponent): \(seqs.count) lines (\(Set(seqs).count) distinct seqs) for \(count) records")
        }
        #expect(Set(lines.map(\.id)).count == lines.count, "no id has two lines")
        #expect(lines.count == 50 + 1500 + 1300)
    }
}
