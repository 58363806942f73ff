// `prunerd serve` as a filter and on files: every record gets exactly one line,
// inputs from the real lz4 CLI and Python's lz4.frame are accepted, and the
// encodings of the same vectors decide alike.
import Foundation
import Testing

@Suite("serve in pipe mode", .serialized)
struct PipeModeTests {
    static let smallOptions = ["--clusters", "8", "--warmup", "300", "--recompute-every", "200"]

    func synthetic(rows: Int = 1200, seed: Int = 3) throws -> URL {
        let directory = TestPaths.temporaryDirectory()
        let npy = directory.appendingPathComponent("x.npy")
        try writeSyntheticNPY(rows: rows, dimension: 24, clusters: 8, seed: seed, to: npy)
        return npy
    }

    @Test("N records in, N decision lines out, fields in order, seq in input order")
    func oneLinePerRecord() throws {
        let npy = try synthetic()
        let input = try produce(["--npy", npy.path, "--dtype", "f16", "--lz4", "python", "--checksums"])
        let result = try runProcess(TestPaths.prunerd, ["serve", "--decisions", "-"] + Self.smallOptions, input: input)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = parseDecisions(result.stdout)
        #expect(lines.count == 1200)
        #expect(lines.map(\.seq) == Array(0..<1200))
        #expect(lines.allSatisfy { $0.src == "stdin" })
        #expect(lines.first?.keys == ["ts", "src", "seq", "id", "decision", "reason", "cluster", "dist", "threshold"])
        let kept = lines.filter { $0.decision == "keep" }.count
        #expect(abs(Double(kept) / 1200 - 0.3) < 0.02, "kept \(kept) of 1200")
        #expect(lines.allSatisfy { $0.decision != "reject" && $0.cluster != nil && $0.dist != nil })
        #expect(result.stderr.contains("records: 1200"))
    }

    @Test("streams from the lz4 CLI and from lz4.frame, in every block size, decide identically",
          arguments: ["4", "5", "6", "7"])
    func producersAgree(blockSize: String) throws {
        let npy = try synthetic(rows: 900, seed: 5)
        let cli = try produce(["--npy", npy.path, "--lz4", "cli", "--block-size", blockSize, "--checksums"])
        let python = try produce(["--npy", npy.path, "--lz4", "python", "--block-size", blockSize])
        let raw = try produce(["--npy", npy.path, "--lz4", "none"])
        #expect(cli.prefix(4) == Data([0x04, 0x22, 0x4D, 0x18]))
        var outcomes: [[String]] = []
        for input in [cli, python, raw] {
            let result = try runProcess(TestPaths.prunerd, ["serve", "--decisions", "-"] + Self.smallOptions, input: input)
            #expect(result.status == 0, "\(result.stderr)")
            outcomes.append(parseDecisions(result.stdout).map(\.verdictKey))
        }
        #expect(outcomes[0].count == 900)
        #expect(outcomes[0] == outcomes[1])
        #expect(outcomes[0] == outcomes[2])
    }

    @Test("float16, float32, bfloat16 and JSON Lines of the same vectors decide ≥ 99% alike")
    func encodingsAgree() throws {
        let npy = try synthetic(rows: 1500, seed: 9)
        var outcomes: [[String]] = []
        for dtype in ["f32", "f16", "bf16", "json"] {
            let input = try produce(["--npy", npy.path, "--dtype", dtype, "--lz4", "python"])
            let result = try runProcess(TestPaths.prunerd, ["serve", "--decisions", "-"] + Self.smallOptions, input: input)
            #expect(result.status == 0, "\(result.stderr)")
            outcomes.append(parseDecisions(result.stdout).map { "\($0.id)|\($0.decision)" })
        }
        for other in outcomes.dropFirst() {
            #expect(other.count == outcomes[0].count)
            let same = zip(outcomes[0], other).filter { $0 == $1 }.count
            #expect(Double(same) / Double(outcomes[0].count) >= 0.99, "\(same) of \(outcomes[0].count) identical")
        }
        // float32 and JSON carry the same float32 values: identical decisions.
        #expect(outcomes[0] == outcomes[3])
    }

    @Test("files, concatenated frames and several inputs in one run")
    func filesAndConcatenatedFrames() throws {
        let npy = try synthetic(rows: 1000, seed: 11)
        let directory = npy.deletingLastPathComponent()
        let first = try produce(["--npy", npy.path, "--lz4", "cli", "--rows", "1000"])
        let second = try produce(["--npy", npy.path, "--lz4", "python", "--rows", "400"])
        let concatenated = directory.appendingPathComponent("both.lz4")
        try (first + second).write(to: concatenated)
        let single = directory.appendingPathComponent("single.lz4")
        try second.write(to: single)
        let log = directory.appendingPathComponent("decisions.jsonl")
        let result = try runProcess(TestPaths.prunerd, ["serve", concatenated.path, single.path, "--decisions", log.path]
                                    + Self.smallOptions)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = parseDecisions(try Data(contentsOf: log))
        #expect(lines.count == 1800)
        let bySource = Dictionary(grouping: lines, by: \.src)
        #expect(bySource["file:" + concatenated.path]?.map(\.seq) == Array(0..<1400))
        #expect(bySource["file:" + single.path]?.map(\.seq) == Array(0..<400))
    }

    @Test("the same input decides identically however the pipe chunks it (timestamps aside)")
    func chunkingInvariance() throws {
        let npy = try synthetic(rows: 1000, seed: 13)
        let input = try produce(["--npy", npy.path, "--lz4", "python"])
        let directory = npy.deletingLastPathComponent()
        let file = directory.appendingPathComponent("in.lz4")
        try input.write(to: file)
        let viaFile = try runProcess(TestPaths.prunerd, ["serve", file.path, "--decisions", "-"] + Self.smallOptions)
        // A writer that trickles the bytes in small pieces through a pipe.
        let trickle = try runProcess("/bin/sh", ["-c", "python3 -c \"import sys,time\nd=open('\(file.path)','rb').read()\nfor i in range(0,len(d),777):\n sys.stdout.buffer.write(d[i:i+777]); sys.stdout.buffer.flush()\" | '\(TestPaths.prunerd)' serve --decisions - \(Self.smallOptions.joined(separator: " "))"])
        #expect(viaFile.status == 0 && trickle.status == 0, "\(trickle.stderr)")
        let a = parseDecisions(viaFile.stdout).map { "\($0.verdictKey)|\($0.dist!)|\($0.threshold.map { "\($0)" } ?? "")" }
        let b = parseDecisions(trickle.stdout).map { "\($0.verdictKey)|\($0.dist!)|\($0.threshold.map { "\($0)" } ?? "")" }
        #expect(a.count == 1000)
        #expect(a == b)
    }
}
