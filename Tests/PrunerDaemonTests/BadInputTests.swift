// Bad input never crashes prunerd: unusable records get `reject` lines with a
// specific reason and the stream goes on; unframeable streams are closed with
// an error naming input, offset and reason, and other inputs carry on.
import Foundation
import Testing

@Suite("bad input")
struct BadInputTests {
    static let options = ["--clusters", "2", "--warmup", "4", "--recompute-every", "4", "--decisions", "-"]

    @Test("every PRN1 rejection class gets its reason and the next record still decodes")
    func prn1Rejections() throws {
        let v = { (seed: Int) in Handmade.vector(seed) }
        var stream = Data()
        stream += Handmade.prn1("first", v(1))                                        // 0 fixes dimension 8
        stream += Handmade.prn1(id: Array("t".utf8), dtype: 9, vector: v(2))          // 1 bad_dtype
        stream += Handmade.prn1(id: Array("f".utf8), flags: 0x02, vector: v(3))       // 2 bad_flags
        stream += Handmade.prn1(id: Array("z".utf8), dim: 0, vector: [])              // 3 dim 0
        stream += Handmade.prn1(id: [], vector: v(4))                                 // 4 bad_id (empty)
        stream += Handmade.prn1(id: [0xFF, 0xFE], vector: v(5))                       // 5 bad_id (not UTF-8)
        stream += Handmade.prn1(id: Array("l".utf8), dim: 9, vector: v(6))            // 6 bad_length
        stream += Handmade.prn1("nan", v(7).enumerated().map { $0.offset == 3 ? .nan : $0.element }) // 7
        stream += Handmade.prn1("zero", [Float](repeating: 0, count: 8))              // 8 zero_vector
        stream += Handmade.prn1("short", Handmade.vector(8, dimension: 5))            // 9 bad_dimension
        stream += Handmade.prn1(id: [UInt8](repeating: 0x61, count: 1025), vector: v(9)) // 10 bad_id (too long)
        for i in 0..<6 { stream += Handmade.prn1("ok\(i)", v(20 + i), score: 0.5) }  // 11…16 valid
        let result = try runProcess(TestPaths.prunerd, ["serve"] + Self.options, input: stream)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = parseDecisions(result.stdout)
        #expect(lines.map(\.seq) == Array(0..<17))
        let expected = ["bad_dtype", "bad_flags", "bad_dimension", "bad_id", "bad_id", "bad_length",
                        "non_finite", "zero_vector", "bad_dimension", "bad_id"]
        #expect(lines[1...10].map(\.reason) == expected)
        #expect(lines[1...10].allSatisfy { $0.decision == "reject" && $0.cluster == nil && $0.dist == nil })
        #expect(lines[0].decision != "reject")
        #expect(lines[11...].allSatisfy { $0.decision == "keep" || $0.decision == "drop" })
        #expect(result.stderr.contains("rejected: 10"))
    }

    @Test("JSON Lines rejections: bad_json, bad_id, non_finite, too_large; the stream goes on")
    func jsonRejections() throws {
        let good = { (i: Int) in "{\"id\":\"g\(i)\",\"embedding\":[\(Handmade.vector(i).map { "\($0)" }.joined(separator: ","))]}\n" }
        var text = good(1)
        text += "{\"id\": \"x\", \"embedding\": [1, 2,\n"                       // bad_json
        text += "{\"embedding\": [1,2,3,4,5,6,7,8]}\n"                           // bad_id (missing)
        text += "{\"id\": 5, \"embedding\": [1,2,3,4,5,6,7,8]}\n"                // bad_id (not a string)
        text += "{\"id\": \"inf\", \"embedding\": [1e999,2,3,4,5,6,7,8]}\n"      // non_finite
        text += "{\"id\": \"big\", \"embedding\": [" + String(repeating: "0.5,", count: 3000) + "1]}\n" // too_large
        text += "\n   \n"
        for i in 2..<8 { text += good(i) }
        let result = try runProcess(TestPaths.prunerd, ["serve", "--max-record-size", "4096"] + Self.options,
                                    input: Data(text.utf8))
        #expect(result.status == 0, "\(result.stderr)")
        let lines = parseDecisions(result.stdout)
        #expect(lines.count == 12)
        #expect(lines[1...5].map(\.reason) == ["bad_json", "bad_id", "bad_id", "non_finite", "too_large"])
        #expect(lines[6...].allSatisfy { $0.decision != "reject" })
    }

    @Test("corrupt LZ4 closes the input with input name, offset and reason; records before it are decided")
    func corruptCompression() throws {
        var records = Data()
        for i in 0..<8000 { records += Handmade.prn1("r\(i)", Handmade.vector(i)) }
        let directory = TestPaths.temporaryDirectory()
        let plain = directory.appendingPathComponent("plain.prn1")
        try records.write(to: plain)
        // 64 KiB blocks with block checksums: the damaged block fails, the ones before it decode.
        let compressed = try runProcess("/usr/bin/env", ["lz4", "-q", "-c", "-B4", "-BX", "--content-size", plain.path])
        var bytes = [UInt8](compressed.stdout)
        let flipAt = bytes.count * 3 / 4
        bytes[flipAt] ^= 0x5A
        let bad = directory.appendingPathComponent("bad.lz4")
        try Data(bytes).write(to: bad)
        let result = try runProcess(TestPaths.prunerd, ["serve", bad.path] + Self.options)
        #expect(result.status == 1, "pipe mode reports a failed input in its exit status")
        #expect(result.stderr.contains("input file:\(bad.path) closed: lz4 error at compressed byte offset"))
        let lines = parseDecisions(result.stdout)
        #expect(lines.count > 0 && lines.count < 8000)
        #expect(lines.map(\.seq) == Array(0..<lines.count))
    }

    @Test("framing errors: wrong magic, oversized length, truncated record, unknown encoding")
    func framingErrors() throws {
        let valid = Handmade.prn1("a", Handmade.vector(1)) + Handmade.prn1("b", Handmade.vector(2))
        let cases: [(Data, String)] = [
            (valid + Data("PRNX".utf8) + Data(count: 40), "offset \(valid.count)"),
            (valid + Handmade.prn1(id: Array("h".utf8), vector: Handmade.vector(3), length: 5_000_000), "offset \(valid.count)"),
            (valid + Handmade.prn1("c", Handmade.vector(3)).prefix(20), "truncated"),
            (Data("hello world\n".utf8), "text that is not JSON Lines"),
            (Data([0x00, 0x01, 0x02]), "unknown record encoding: unrecognised data (first byte 0x00)"),
        ]
        for (input, expectedText) in cases {
            let result = try runProcess(TestPaths.prunerd, ["serve"] + Self.options, input: input)
            #expect(result.status == 1)
            #expect(result.stderr.contains("input stdin closed"), "\(result.stderr)")
            #expect(result.stderr.contains(expectedText), "\(result.stderr)")
            let lines = parseDecisions(result.stdout)
            if input.first == UInt8(ascii: "P") { #expect(lines.map(\.id) == ["a", "b"]) }
        }
    }
}
