// LZ4StreamDecoder against frames written by the real producers: the lz4 CLI
// (v1.9.x) and python-lz4's lz4.frame, fed in every chunking.

import Foundation
import PrunerIO
import Testing

@Suite("LZ4StreamDecoder")
struct LZ4StreamDecoderTests {
    /// ~600 KB of JSON-Lines-like text: compressible, but not trivially, so frames hold many blocks.
    static let payload: [UInt8] = {
        var rng = SplitMix64(seed: 42)
        var text = ""
        for i in 0..<6000 {
            let v = randomVector(8, &rng).map { String($0) }.joined(separator: ",")
            text += "{\"id\":\"doc-\(i)\",\"embedding\":[\(v)]}\n"
        }
        return Array(text.utf8)
    }()

    struct Fixture {
        let dir: URL
        let input: URL
        init() throws {
            dir = try makeTemporaryDirectory()
            input = dir.appendingPathComponent("payload.jsonl")
            try Data(LZ4StreamDecoderTests.payload).write(to: input)
        }

        func lz4(_ options: [String], name: String) throws -> [UInt8] {
            guard let tool = findTool("lz4") else { throw ToolFailure(description: "lz4 CLI not installed") }
            let output = dir.appendingPathComponent(name)
            try run(tool, options + ["-q", "-f", input.path, output.path])
            return try readBytes(output)
        }

        func python(_ arguments: String, name: String) throws -> [UInt8] {
            guard let tool = findTool("python3") else { throw ToolFailure(description: "python3 not installed") }
            let output = dir.appendingPathComponent(name)
            try run(tool, ["-c", """
                import sys, lz4.frame
                data = open(sys.argv[1], 'rb').read()
                open(sys.argv[2], 'wb').write(lz4.frame.compress(data, \(arguments)))
                """, input.path, output.path])
            return try readBytes(output)
        }
    }

    func expectDecodes(_ compressed: [UInt8], to expected: [UInt8], _ label: String) {
        for sizes in chunkPatterns(seed: UInt64(compressed.count), count: compressed.count) {
            // Byte-at-a-time over a whole multi-frame file is slow in debug; sample it on a prefix stream.
            if sizes == [1] && compressed.count > 200_000 { continue }
            let (output, error) = decompress(compressed, sizes: sizes)
            #expect(error == nil, "\(label) chunks \(sizes.prefix(3)): \(String(describing: error))")
            #expect(output == expected, "\(label) chunks \(sizes.prefix(3)): output differs (\(output.count) vs \(expected.count) bytes)")
        }
    }

    @Test("frames from the lz4 CLI with every block size and checksum option decode identically")
    func lz4CLIFrames() throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.dir) }
        let variants: [(String, [String])] = [
            ("B4-content-size", ["-B4", "--content-size"]),
            ("BD-linked", ["-B4", "-BD"]),
            ("no-frame-crc", ["-B5", "--no-frame-crc"]),
            ("B7-block-checksum", ["-B7", "-BX"]),
            ("level9", ["-9", "-B6"]),
        ]
        for (name, options) in variants {
            let compressed = try fixture.lz4(options, name: name + ".lz4")
            #expect(Array(compressed.prefix(4)) == [0x04, 0x22, 0x4D, 0x18])
            expectDecodes(compressed, to: Self.payload, name)
        }
    }

    @Test("frames from python lz4.frame with block and content checksums decode identically")
    func pythonFrames() throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.dir) }
        let variants: [(String, String)] = [
            ("py-64k-checksums",
             "block_size=lz4.frame.BLOCKSIZE_MAX64KB, content_checksum=True, block_checksum=True"),
            ("py-4m-linked", "block_size=lz4.frame.BLOCKSIZE_MAX4MB, block_linked=True, store_size=True"),
            ("py-256k-independent", "block_size=lz4.frame.BLOCKSIZE_MAX256KB, block_linked=False"),
        ]
        for (name, arguments) in variants {
            expectDecodes(try fixture.python(arguments, name: name), to: Self.payload, name)
        }
    }

    @Test("concatenated frames with a skippable frame between them decode as one stream, byte by byte too")
    func concatenatedAndSkippable() throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.dir) }
        let a = try fixture.lz4(["-B4", "--content-size"], name: "a.lz4")
        let b = try fixture.python("block_size=lz4.frame.BLOCKSIZE_MAX64KB, content_checksum=True", name: "b.lz4")
        // Skippable frame: magic 0x184D2A5A, u32 size, payload (which must not appear in the output).
        let skippable: [UInt8] = [0x5A, 0x2A, 0x4D, 0x18, 5, 0, 0, 0] + Array("HELLO".utf8)
        let emptySkippable: [UInt8] = [0x50, 0x2A, 0x4D, 0x18, 0, 0, 0, 0]
        let stream = a + skippable + b + emptySkippable + a
        expectDecodes(stream, to: Self.payload + Self.payload + Self.payload, "a+skip+b+skip+a")
        // A stream that starts with a skippable frame is LZ4 too.
        expectDecodes(skippable + a, to: Self.payload, "skip+a")

        // Byte-at-a-time over small frames (the whole-file variant is sampled above).
        let small = Array(Self.payload.prefix(3000))
        try Data(small).write(to: fixture.input)
        let c = try fixture.lz4(["-B4", "-BX"], name: "c.lz4")
        let (output, error) = decompress(c + skippable + c, sizes: [1])
        #expect(error == nil)
        #expect(output == small + small)
    }

    @Test("bytes that do not start with a frame magic pass through untouched")
    func rawPassthrough() {
        let json = Array("{\"id\":\"a\",\"embedding\":[1]}\n".utf8)
        #expect(decompress(json, sizes: [1]).output == json)
        #expect(decompress(json, sizes: [100]).output == json)
        // "PRN1" starts like a skippable magic (0x50) and must still pass through.
        let prn1 = RecordEncoder.prn1(id: "x", vector: [1, 2], dtype: .float32, score: nil)
        for sizes in [[1], [2], [3, 1], [100]] {
            let (output, error) = decompress(prn1, sizes: sizes)
            #expect(error == nil)
            #expect(output == prn1)
        }
        // Almost the frame magic.
        let near: [UInt8] = [0x04, 0x22, 0x4D, 0x19, 1, 2, 3]
        #expect(decompress(near, sizes: [1]).output == near)
        #expect(decompress([], sizes: [1]).error == nil)
    }

    @Test("a corrupted block with a checksum fails with an lz4 error at that block's offset")
    func corruptedBlock() throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.dir) }
        var compressed = try fixture.python(
            "block_size=lz4.frame.BLOCKSIZE_MAX64KB, content_checksum=True, block_checksum=True", name: "c.lz4")
        // Walk the frame: header, then blocks (u32 size, data, u32 checksum); corrupt inside block 3.
        let flags = compressed[4]
        var position = 4 + 3 + ((flags & 0x08) != 0 ? 8 : 0)
        var blockStarts: [Int] = []
        for _ in 0..<4 {
            blockStarts.append(position)
            let size = Int(compressed[position]) | Int(compressed[position + 1]) << 8
                | Int(compressed[position + 2]) << 16 | Int(compressed[position + 3] & 0x7F) << 24
            position += 4 + size + 4
        }
        let target = blockStarts[2] + 4 + 100
        compressed[target] ^= 0x5A
        // The offset is where the failing LZ4F_decompress call started: within
        // the corrupted block, or just before it when the whole input came at once.
        for sizes in [[compressed.count], [1000], [7, 13]] {
            let (_, error) = decompress(compressed, sizes: sizes)
            let e = try #require(error)
            #expect(e.layer == .compression)
            #expect(e.reason.hasPrefix("LZ4F_decompress: "), "\(e.reason)")
            #expect(e.offset >= UInt64(blockStarts[1]) && e.offset < UInt64(blockStarts[3]), "offset \(e.offset), blocks \(blockStarts), corrupted \(target)")
        }
    }

    @Test("a truncated frame is reported by finish()")
    func truncated() throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.dir) }
        let compressed = try fixture.lz4(["-B4"], name: "t.lz4")
        for cut in [1, 4, 10, compressed.count / 2, compressed.count - 5] {
            let (_, error) = decompress(Array(compressed.prefix(cut)), sizes: [4096])
            let e = try #require(error, "cut at \(cut)")
            #expect(e.layer == .compression)
            #expect(e.reason == "truncated LZ4 frame", "cut at \(cut): \(e.reason)")
        }
    }

    @Test("garbage after a frame is an error naming its offset")
    func garbageBetweenFrames() throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.dir) }
        let compressed = try fixture.lz4(["-B4"], name: "g.lz4")
        for sizes in [[5000], [compressed.count + 10]] {
            let (output, error) = decompress(compressed + Array("junk".utf8), sizes: sizes)
            #expect(output == Self.payload)
            let e = try #require(error)
            #expect(e.offset == UInt64(compressed.count))
            #expect(e.reason.contains("6a"), "\(e.reason)")  // 'j'
        }
    }

    @Test("200 MB of zeros come out in bounded chunks")
    func hugeRatio() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let total = 200_000_000
        let path = dir.appendingPathComponent("zeros.lz4").path
        try run("/bin/sh", ["-c", "head -c \(total) /dev/zero | lz4 -q -c -B7 > '\(path)'"])
        let compressed = try readBytes(URL(fileURLWithPath: path))
        #expect(compressed.count < 2_000_000)
        let decoder = LZ4StreamDecoder()
        var produced = 0
        var largest = 0
        var nonZero = false
        for chunk in chunks(compressed, sizes: [65536]) {
            try chunk.withUnsafeBytes { raw in
                Result { () throws(StreamError) in
                    try decoder.feed(raw) { out in
                        produced += out.count
                        largest = max(largest, out.count)
                        if out.first != 0 || out.last != 0 { nonZero = true }
                    }
                }
            }.get()
        }
        try decoder.finish()
        #expect(produced == total)
        #expect(largest <= LZ4StreamDecoder.outputChunkSize)
        #expect(!nonZero)
    }
}
