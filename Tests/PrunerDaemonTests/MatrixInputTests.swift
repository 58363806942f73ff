// `.npy`, `.npz` and clip-retrieval folders given straight to serve and offline:
// numpy writes every input (float32-born and float16 data, savez and
// savez_compressed, shards), and the decisions must not depend on the container.
import Foundation
import Testing

@Suite("Matrix inputs", .serialized)
struct MatrixInputTests {
    static let options = ["--clusters", "6", "--warmup", "600", "--recompute-every", "200", "--lookahead", "0",
                          "--log-level", "warning"]

    /// Writes the fixtures with numpy into a fresh directory.
    static func fixtures() throws -> URL {
        let directory = TestPaths.temporaryDirectory()
        let script = """
            import numpy as np, os, gzip
            rng = np.random.default_rng(7)
            centres = rng.standard_normal((6, 24))
            a = (centres[rng.integers(0, 6, 2500)] + 0.4 * rng.standard_normal((2500, 24))).astype(np.float32)
            h = a.astype(np.float16)
            np.save('f32.npy', a)
            np.save('f16.npy', h)
            np.save('s0.npy', h[:1000]); np.save('s1.npy', h[1000:])
            np.savez('stored.npz', emb=h)
            np.savez_compressed('deflated.npz', emb=h)
            np.savez('several.npz', l14_img=h, l14_txt=h, uid=np.arange(3))
            ids = [f'{i * 2654435761 % 2**64:016x}{i:016x}' for i in range(2500)]
            open('ids.txt', 'w').write('\\n'.join(ids) + '\\n')
            open('short-ids.txt', 'w').write('\\n'.join(ids[:2000]) + '\\n')
            np.save('scores.npy', rng.random(2500).astype(np.float32))
            os.makedirs('clip/img_emb'); os.makedirs('clip/metadata')
            np.save('clip/img_emb/img_emb_0.npy', h[:1000]); np.save('clip/img_emb/img_emb_1.npy', h[1000:])
            open('clip/metadata/metadata_0.ids', 'w').write('\\n'.join(ids[:1000]) + '\\n')
            open('clip/metadata/metadata_1.ids', 'w').write('\\n'.join(ids[1000:]) + '\\n')
            os.makedirs('parquet/img_emb'); os.makedirs('parquet/metadata')
            np.save('parquet/img_emb/img_emb_0.npy', h[:10])
            open('parquet/metadata/metadata_0.parquet', 'wb').write(b'PAR1' + bytes(20) + b'PAR1')
            open('x.parquet', 'wb').write(b'PAR1' + bytes(20) + b'PAR1')
            open('x.jsonl.gz', 'wb').write(gzip.compress(b'{"id":"a","embedding":[1,2]}\\n'))
            np.save('wide.npy', rng.standard_normal((10, 32)).astype(np.float32))
            open('truncated.npy', 'wb').write(open('f16.npy', 'rb').read()[:-100])
            """
        let result = try runProcess("/bin/sh", ["-c", "cd '\(directory.path)' && python3 -c \"$0\"", script])
        try #require(result.status == 0, "numpy fixtures: \(result.stderr)")
        return directory
    }

    static func serve(_ arguments: [String], in directory: URL, command: String = "serve") throws -> ProcessResult {
        try runProcess("/bin/sh", ["-c", "cd '\(directory.path)' && exec \"$0\" \"$@\"", TestPaths.prunerd, command,
                                   "--decisions", "-"] + options + arguments)
    }

    static func keptIds(_ result: ProcessResult) -> [String] {
        parseDecisions(result.stdout).filter { $0.decision == "keep" }.map(\.id)
    }

    @Test("npy, npz (stored and deflated), shards and a clip-retrieval folder give the same decisions")
    func containersAgree() throws {
        let directory = try Self.fixtures()
        defer { try? FileManager.default.removeItem(at: directory) }
        let reference = try Self.serve(["f16.npy", "--ids", "ids.txt"], in: directory)
        #expect(reference.status == 0, "\(reference.stderr)")
        let lines = parseDecisions(reference.stdout)
        #expect(lines.count == 2500)
        #expect(lines.first?.src == "file:\(directory.path)/f16.npy" && lines.first?.seq == 0)
        let kept = Self.keptIds(reference)
        #expect(kept.count > 600 && kept.count < 900)
        for arguments in [["stored.npz", "--ids", "ids.txt"], ["deflated.npz", "--ids", "ids.txt"],
                          ["s0.npy", "s1.npy", "--ids", "ids.txt"], ["clip"],
                          ["several.npz", "--npz-key", "l14_img", "--ids", "ids.txt"]] {
            let result = try Self.serve(arguments, in: directory)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(Self.keptIds(result) == kept, "\(arguments)")
        }
        // Shards keep their own src, and seq counts rows within the shard.
        let shards = parseDecisions(try Self.serve(["s0.npy", "s1.npy"], in: directory).stdout)
        #expect(shards[999].src.hasSuffix("/s0.npy") && shards[1000].src.hasSuffix("/s1.npy") && shards[1000].seq == 0)
        #expect(shards[1000].id == "1000", "without --ids a row's id is its row number over all shards")
        // --scores: each row's score is its record's, and the decision log carries it.
        let scored = try Self.serve(["f16.npy", "--ids", "ids.txt", "--scores", "scores.npy"], in: directory)
        #expect(scored.status == 0, "\(scored.stderr)")
        let check = """
            import numpy as np, json, sys
            scores = np.load('scores.npy')
            lines = [json.loads(l) for l in sys.stdin]
            assert len(lines) == 2500
            assert all(np.float32(l['score']) == scores[i] for i, l in enumerate(lines))
            """
        let verified = try runProcess("/bin/sh", ["-c", "cd '\(directory.path)' && python3 -c \"$0\"", check], input: scored.stdout)
        #expect(verified.status == 0, "\(verified.stderr)")
        // The offline recipe reads the same inputs.
        let offline = try Self.serve(["deflated.npz", "--ids", "ids.txt"], in: directory, command: "offline")
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(parseDecisions(offline.stdout).count == 2500)
    }

    @Test("float32-born data read from .npy equals the same rows sent as JSON Lines")
    func float32MatchesRecords() throws {
        let directory = try Self.fixtures()
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = """
            import numpy as np, json
            a = np.load('f32.npy')
            with open('f32.jsonl', 'w') as f:
                for i, row in enumerate(a): f.write(json.dumps({'id': str(i), 'embedding': [float(x) for x in row]}) + '\\n')
            """
        _ = try runProcess("/bin/sh", ["-c", "cd '\(directory.path)' && python3 -c \"$0\"", script])
        let matrix = try Self.serve(["f32.npy"], in: directory)
        let records = try Self.serve(["f32.jsonl"], in: directory)
        #expect(matrix.status == 0 && records.status == 0)
        #expect(Self.keptIds(matrix) == Self.keptIds(records))
        #expect(parseDecisions(matrix.stdout).map(\.dist) == parseDecisions(records.stdout).map(\.dist))
    }

    @Test("inputs prunerd cannot read are named, with what to do")
    func unreadableInputs() throws {
        let directory = try Self.fixtures()
        defer { try? FileManager.default.removeItem(at: directory) }
        let cases: [([String], String)] = [
            (["x.parquet"], "a Parquet file (PAR1)"),
            (["x.jsonl.gz"], "gzip-compressed data (1f 8b): decompress it first"),
            (["parquet"], "prunerd does not read Parquet"),
            (["f16.npy", "wide.npy"], "expected 24 columns, got 32"),
            (["several.npz"], "choose one with --npz-key NAME"),
            (["f16.npy", "--ids", "short-ids.txt"], "ids file short-ids.txt has 2000 lines, but the matrix has more rows"),
            (["truncated.npy"], "truncated .npy"),
        ]
        for (arguments, message) in cases {
            let result = try Self.serve(arguments, in: directory)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }
}
