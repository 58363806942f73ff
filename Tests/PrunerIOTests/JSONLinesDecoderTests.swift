// RecordDecoder on JSON Lines: escapes, ignored keys of every JSON type,
// blank lines, CRLF, a last line without newline, each rejection class,
// over-long lines, number rounding, and chunking invariance.

import Foundation
import PrunerCore
import PrunerIO
import Testing

@Suite("RecordDecoder JSON Lines")
struct JSONLinesDecoderTests {
    func decodeAll(_ text: String, maxRecordSize: Int = 1 << 20) -> (events: [CapturedEvent], error: StreamError?) {
        let bytes = Array(text.utf8)
        var first: [CapturedEvent]?
        for sizes in chunkPatterns(seed: UInt64(bytes.count), count: bytes.count) {
            let result = decodeRecords(bytes, sizes: sizes, maxRecordSize: maxRecordSize)
            #expect(result.error == nil, "chunks \(sizes.prefix(3)): \(String(describing: result.error))")
            if let first {
                #expect(result.events == first, "chunks \(sizes.prefix(3)) differ")
            } else {
                first = result.events
            }
        }
        return (first ?? [], nil)
    }

    @Test("well-formed lines with escapes, unicode, extra keys, score present or absent, blank lines, CRLF")
    func wellFormed() {
        let text = """
            {"id": "plain", "embedding": [1, -2.5, 3e2, 0.125E-1, -0], "score": 0.75}
            \r
               \t
            {"meta": {"a": [1, {"b": "x\\"}y"}], "c": null}, "id": "q\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00", "flag": true, "off": false, "n": null, "arr": [[], {}, "]"], "num": -1.5e-3, "embedding": [0.1]}\r
            {"embedding":[1,2],"id":"日本語","score":-3}

            {"id":"last","embedding":[7],"other":"\\u005b"}
            """
        let (events, _) = decodeAll(text)
        #expect(events == [
            .record("plain", [1, -2.5, 300, 0.0125, -0.0], score: 0.75),
            .record("q\"\\/\u{8}\u{c}\n\r\té😀", [0.1]),
            .record("日本語", [1, 2], score: -3),
            .record("last", [7]),
        ])
    }

    @Test("numbers are correctly rounded to Float, including ones needing the slow path")
    func numberRounding() {
        let literals = [
            "0.1", "3.4028235e38", "1.17549435e-38", "1e-45", "1.4e-45", "7e-46", "123456789012345678901234567890",
            "0.30000001192092896", "16777217", "16777219", "1.00000005960464477539062500001",
            "1.000000059604644775390625", "2.5e-10", "-0.0000001", "9007199254740993", "1e999", "-1e999", "1e-999",
            "0.000000000000000000000000000000000000000000001",
        ]
        let line = "{\"id\":\"n\",\"embedding\":[\(literals.joined(separator: ","))]}\n"
        let (events, _) = decodeAll(line)
        let decoded = events.first?.vector ?? []
        #expect(decoded.count == literals.count)
        for (literal, value) in zip(literals, decoded) {
            let expected = strtof(literal, nil)  // glibc: correctly rounded
            #expect(value.bitPattern == expected.bitPattern, "\(literal): \(value) vs \(expected)")
        }
    }

    @Test("floats written by RecordEncoder.jsonLine decode to the same bits")
    func encoderRoundTrip() {
        var rng = SplitMix64(seed: 5)
        var text: [UInt8] = []
        var expected: [CapturedEvent] = []
        for i in 0..<200 {
            var v = randomVector(16, &rng).map { $0 * Float(1 << (i % 20)) / 1000 }
            v.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x7F7F_FFFF))
            let id = "id \"\(i)\"\n\u{1}"
            let score: Float? = i % 3 == 0 ? nil : Float(i) / 3
            text += RecordEncoder.jsonLine(id: id, vector: v, score: score)
            expected.append(.record(id, v, score: score))
        }
        for sizes in chunkPatterns(seed: 3, count: text.count) {
            #expect(decodeRecords(text, sizes: sizes).events == expected)
        }
        // The encoder's output is JSON Foundation accepts (finite values; Foundation rejects 1e999).
        let firstLine = RecordEncoder.jsonLine(id: "x\u{0}\"", vector: [1, 2.5e-8, -0.0, 3e38], score: 1e-40)
        #expect((try? JSONSerialization.jsonObject(with: Data(firstLine))) != nil)
    }

    @Test("each rejection class yields one event and the next line still decodes")
    func rejections() {
        let cases: [(String, CapturedEvent)] = [
            (#"not json"#, .rejected(id: "", reason: .badJSON)),
            (#"{"id": "a", "embedding": [1]"#, .rejected(id: "a", reason: .badJSON)),
            (#"{"id": "a", "embedding": [1]} trailing"#, .rejected(id: "a", reason: .badJSON)),
            (#"{"id": "a", "embedding": [1,]}"#, .rejected(id: "a", reason: .badJSON)),
            (#"{"id": "a", "embedding": [01]}"#, .rejected(id: "a", reason: .badJSON)),
            (#"{"id": "a", "embedding": [1.]}"#, .rejected(id: "a", reason: .badJSON)),
            (#"{"id": "a", "embedding": [NaN]}"#, .rejected(id: "a", reason: .badJSON)),
            (#"{"id": "a", "x": tru, "embedding": [1]}"#, .rejected(id: "a", reason: .badJSON)),
            (#"{"id": "a\q", "embedding": [1]}"#, .rejected(id: "", reason: .badJSON)),
            (#"[1, 2]"#, .rejected(id: "", reason: .badJSON)),
            (#"{"id": "a"}"#, .rejected(id: "a", reason: .badJSON)),
            (#"{"embedding": [1], "id": "a", "embedding": "x"}"#, .rejected(id: "a", reason: .badJSON)),
            (#"{"id": "a", "embedding": [1, "2"]}"#, .rejected(id: "a", reason: .badJSON)),
            (#"{"id": "a", "embedding": [[1]]}"#, .rejected(id: "a", reason: .badJSON)),
            (#"{"id": "a", "embedding": {"0": 1}}"#, .rejected(id: "a", reason: .badJSON)),
            (#"{"id": "a", "embedding": [1], "score": "high"}"#, .rejected(id: "a", reason: .badJSON)),
            (#"{"id": "a", "embedding": [1], "score": [1]}"#, .rejected(id: "a", reason: .badJSON)),
            (#"{"embedding": [1]}"#, .rejected(id: "", reason: .badID)),
            (#"{"id": 17, "embedding": [1]}"#, .rejected(id: "", reason: .badID)),
            (#"{"id": null, "embedding": [1]}"#, .rejected(id: "", reason: .badID)),
            (#"{"id": "", "embedding": [1]}"#, .rejected(id: "", reason: .badID)),
            (#"{"id": "\ud800", "embedding": [1]}"#, .rejected(id: "", reason: .badID)),
            ("{\"id\": \"" + String(repeating: "é", count: 513) + "\", \"embedding\": [1]}",
             .rejected(id: "", reason: .badID)),
            (#"{"id": "a", "embedding": []}"#, .rejected(id: "a", reason: .badDimension)),
            (#"{"id": "a", "embedding": [ ], "score": 1}"#, .rejected(id: "a", reason: .badDimension)),
            (#"{"id": "a", "embedding": [1], "score": null}"#, .record("a", [1])),
            ("{\"id\": \"" + String(repeating: "x", count: 1024) + "\", \"embedding\": [2]}",
             .record(String(repeating: "x", count: 1024), [2])),
        ]
        let good = #"{"id":"next","embedding":[1,2]}"#
        for (line, expected) in cases {
            let (events, _) = decodeAll(good + "\n" + line + "\n" + good + "\n")
            #expect(events == [.record("next", [1, 2]), expected, .record("next", [1, 2])], "\(line.prefix(60))")
        }
    }

    @Test("a line over maxRecordSize is rejected as too_large and skipped without buffering it")
    func tooLarge() {
        let max = 4096
        let long = "{\"id\":\"big\",\"embedding\":[" + Array(repeating: "0.5", count: 5000).joined(separator: ",") + "]}"
        let fits = "{\"id\":\"fits\",\"embedding\":[" + Array(repeating: "1", count: 2000).joined(separator: ",") + "]}"
        #expect(fits.utf8.count <= max)
        let text = "{\"id\":\"a\",\"embedding\":[1]}\n" + long + "\n" + fits + "\n" + long + "\n{\"id\":\"b\",\"embedding\":[2]}\n" + long
        let (events, _) = decodeAll(text, maxRecordSize: max)
        #expect(events == [
            .record("a", [1]),
            .rejected(id: "", reason: .tooLarge),
            .record("fits", Array(repeating: 1, count: 2000)),
            .rejected(id: "", reason: .tooLarge),
            .record("b", [2]),
            .rejected(id: "", reason: .tooLarge),
        ])
        // Bounded memory: a 64 MB line, fed in 1 MB chunks, is dropped as it streams by.
        var decoder = RecordDecoder(maxRecordSize: max)
        var events2: [CapturedEvent] = []
        let chunk = [UInt8](repeating: UInt8(ascii: "1"), count: 1 << 20)
        let start = Array("{\"id\":\"x\",\"embedding\":[".utf8)
        let end = Array("]}\n{\"id\":\"y\",\"embedding\":[3]}\n".utf8)
        start.withUnsafeBytes { try? decoder.feed($0) { events2.append(CapturedEvent($0)) } }
        for _ in 0..<64 {
            chunk.withUnsafeBytes { try? decoder.feed($0) { events2.append(CapturedEvent($0)) } }
        }
        end.withUnsafeBytes { try? decoder.feed($0) { events2.append(CapturedEvent($0)) } }
        try? decoder.finish { events2.append(CapturedEvent($0)) }
        #expect(events2 == [.rejected(id: "", reason: .tooLarge), .record("y", [3])])
    }

    @Test("a last line without a newline is a record; a truncated one is bad_json")
    func lastLine() {
        #expect(decodeAll(#"{"id":"a","embedding":[1]}"#).events == [.record("a", [1])])
        #expect(decodeAll("{\"id\":\"a\",\"embedding\":[1]}\r").events == [.record("a", [1])])
        #expect(decodeAll(#"{"id":"a","embedding":[1"#).events == [.rejected(id: "a", reason: .badJSON)])
    }
}
