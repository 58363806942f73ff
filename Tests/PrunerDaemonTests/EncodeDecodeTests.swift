// `prunerd encode` and `decode` against independent producers and readers:
// numpy writes the matrices, python-lz4 and a byte-level PRN1 reader in Python
// check what encode wrote, JSON parsing checks decode.
import Foundation
import Testing

@Suite("encode and decode", .serialized)
struct EncodeDecodeTests {
    static func python(_ script: String, in directory: URL) throws -> ProcessResult {
        try runProcess("/bin/sh", ["-c", "cd '\(directory.path)' && python3 -c \"$0\"", script])
    }

    static func prunerd(_ arguments: [String], in directory: URL) throws -> ProcessResult {
        try runProcess("/bin/sh", ["-c", "cd '\(directory.path)' && exec \"$0\" \"$@\"", TestPaths.prunerd] + arguments)
    }

    @Test("encode: every row, id and score of a float32-born .npy, exact in f32, LZ4 read by python-lz4; f16 and bf16 round")
    func encodeMatchesNumpy() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let setup = """
            import numpy as np
            rng = np.random.default_rng(3)
            a = rng.standard_normal((700, 40)).astype(np.float32)
            np.save('a.npy', a)
            np.savez_compressed('a.npz', emb=a)
            np.save('scores.npy', rng.random(700).astype(np.float32))
            open('ids.txt', 'w').write(''.join(f'id-{i}\\n' for i in range(700)))
            """
        try #require(try Self.python(setup, in: directory).status == 0)
        for (arguments, check) in [
            (["a.npy", "--dtype", "f32"], "np.float32, 1, 4, False"),
            (["a.npz", "--dtype", "f16"], "np.float16, 2, 2, False"),
            (["a.npy", "--dtype", "bf16", "--compression", "raw"], "None, 3, 2, True"),
        ] {
            let encoded = try Self.prunerd(["encode"] + arguments + ["--ids", "ids.txt", "--scores", "scores.npy", "-o", "out.prn1"],
                                           in: directory)
            #expect(encoded.status == 0, "\(encoded.stderr)")
            #expect(encoded.stderr.contains("encoded 700 records of dimension 40"), "\(encoded.stderr)")
            let verify = """
                import numpy as np, lz4.frame, struct
                want, dtype_byte, size, raw = \(check)
                data = open('out.prn1', 'rb').read()
                if not raw: data = lz4.frame.decompress(data)
                a = np.load('a.npy'); scores = np.load('scores.npy'); pos = 0
                for i in range(700):
                    assert data[pos:pos+4] == b'PRN1', (i, data[pos:pos+4])
                    length, dtype, flags, dim, idlen = struct.unpack('<IBBHH', data[pos+4:pos+14])
                    assert (dtype, flags, dim) == (dtype_byte, 1, 40), (dtype, flags, dim)
                    assert data[pos+14:pos+14+idlen].decode() == f'id-{i}'
                    v = data[pos+14+idlen:pos+14+idlen+dim*size]
                    if want is None:
                        got = (np.frombuffer(v, '<u2').astype(np.uint32) << 16).view(np.float32)
                        assert np.allclose(got, a[i], rtol=1/128, atol=1e-30), i
                    else:
                        assert np.array_equal(np.frombuffer(v, want), a[i].astype(want)), i
                    assert struct.unpack('<f', data[pos+14+idlen+dim*size:pos+18+idlen+dim*size])[0] == scores[i]
                    pos += 8 + length
                assert pos == len(data)
                """
            let result = try Self.python(verify, in: directory)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
        }
    }

    @Test("decode prints what encode wrote, and a reject with its reason")
    func decodeRoundTrip() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let setup = """
            import numpy as np
            np.save('h.npy', np.arange(60, dtype=np.float16).reshape(20, 3))
            """
        try #require(try Self.python(setup, in: directory).status == 0)
        let encoded = try Self.prunerd(["encode", "h.npy", "-o", "h.prn1.lz4"], in: directory)
        #expect(encoded.status == 0, "\(encoded.stderr)")
        let decoded = try Self.prunerd(["decode", "h.prn1.lz4"], in: directory)
        #expect(decoded.status == 0, "\(decoded.stderr)")
        let lines = String(decoding: decoded.stdout, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 20)
        let last = try JSONSerialization.jsonObject(with: Data(lines[19].utf8)) as! [String: Any]
        #expect(last["id"] as? String == "19")
        #expect(last["embedding"] as? [Double] == [57, 58, 59])
        // The .npy itself decodes to the same lines.
        #expect(try Self.prunerd(["decode", "h.npy"], in: directory).stdout == decoded.stdout)
        let bad = Handmade.prn1(id: Array("x".utf8), dtype: 9, vector: [1, 2])
        let rejected = try runProcess(TestPaths.prunerd, ["decode", "-"], input: bad)
        #expect(String(decoding: rejected.stdout, as: UTF8.self) == "{\"seq\":0,\"id\":\"x\",\"rejected\":\"bad_dtype\"}\n")
    }

    @Test("an empty matrix is an error that says so")
    func emptyInput() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try #require(try Self.python("import numpy as np; np.save('e.npy', np.zeros((0, 8), np.float32))", in: directory).status == 0)
        let result = try Self.prunerd(["encode", "e.npy"], in: directory)
        #expect(result.status == 1)
        #expect(result.stderr.contains("no records: e.npy has 0 rows"), "\(result.stderr)")
    }
}
