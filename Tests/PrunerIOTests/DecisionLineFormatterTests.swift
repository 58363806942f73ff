// DecisionLineFormatter: exact lines, JSON validity, escaping, timestamps.

import Foundation
import PrunerCore
import PrunerIO
import Testing

@Suite("DecisionLineFormatter")
struct DecisionLineFormatterTests {
    func line(
        ts: Int64 = 1_795_708_732_123, source: String = "stdin", seq: UInt64 = 0, id: String = "abc",
        _ decision: Decision
    ) -> String {
        var formatter = DecisionLineFormatter()
        var buffer: [UInt8] = []
        formatter.append(ts: ts, source: DecisionLineFormatter.jsonEscaped(source), seq: seq, id: id,
                         decision: decision, to: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    @Test("keep, drop and reject lines are exactly the documented format")
    func exactLines() {
        let keep = Decision(verdict: .keep, reason: .withinQuota, cluster: 17, distance: 0.412345, threshold: 0.398765)
        #expect(line(keep) == #"{"ts":"2026-11-26T15:58:52.123Z","src":"stdin","seq":0,"id":"abc","decision":"keep","reason":"within_quota","cluster":17,"dist":0.412345,"threshold":0.398765}"# + "\n")
        let drop = Decision(verdict: .drop, reason: .overQuota, cluster: 0, distance: 0.0078125, threshold: 1)
        #expect(line(source: "file:/data/a.lz4", seq: 18_446_744_073_709_551_615, drop) == #"{"ts":"2026-11-26T15:58:52.123Z","src":"file:/data/a.lz4","seq":18446744073709551615,"id":"abc","decision":"drop","reason":"over_quota","cluster":0,"dist":0.007812,"threshold":1.000000}"# + "\n")
        #expect(line(seq: 42, id: "", .reject(.badDtype)) == #"{"ts":"2026-11-26T15:58:52.123Z","src":"stdin","seq":42,"id":"","decision":"reject","reason":"bad_dtype","cluster":null,"dist":null,"threshold":null}"# + "\n")
        let dup = Decision(verdict: .drop, reason: .duplicate, cluster: 3, distance: 1.9999999, threshold: nil)
        #expect(line(dup).hasSuffix(#""reason":"duplicate","cluster":3,"dist":2.000000,"threshold":null}"# + "\n"))
        let negative = Decision(verdict: .keep, reason: .sampled, cluster: -1, distance: -0.0000004, threshold: 12.5)
        #expect(line(negative).hasSuffix(#""reason":"sampled","cluster":-1,"dist":-0.000000,"threshold":12.500000}"# + "\n"))
    }

    @Test("a record's score is the last field, in shortest round-trip form, only when it had one")
    func score() {
        var formatter = DecisionLineFormatter()
        var buffer: [UInt8] = []
        let keep = Decision(verdict: .keep, reason: .withinQuota, cluster: 2, distance: 0.5, threshold: 0.25)
        formatter.append(ts: 1_795_708_732_123, source: Array("stdin".utf8), seq: 1, id: "a", decision: keep,
                         score: 0.31234, to: &buffer)
        formatter.append(ts: 1_795_708_732_123, source: Array("stdin".utf8), seq: 2, id: "b", decision: .reject(.nonFinite),
                         score: .nan, to: &buffer)
        let lines = String(decoding: buffer, as: UTF8.self).split(separator: "\n")
        #expect(lines[0].hasSuffix(#""dist":0.500000,"threshold":0.250000,"score":0.31234}"#))
        #expect(lines[1].hasSuffix(#""threshold":null,"score":null}"#))
        let object = try? JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        #expect((object?["score"] as? Double).map { Float($0) } == 0.31234)
    }

    @Test("dist and threshold match C's %.6f for many values")
    func fixedSixMatchesPrintf() {
        var rng = SplitMix64(seed: 11)
        for _ in 0..<2000 {
            let x = Float(Double(rng.next() >> 11) / Double(UInt64(1) << 53) * 4)
            let d = Decision(verdict: .keep, reason: .withinQuota, cluster: 1, distance: x, threshold: nil)
            let expected = String(format: "%.6f", Double(x))
            #expect(line(d).contains("\"dist\":\(expected),"), "\(x)")
        }
    }

    @Test("ids are escaped and every line is valid JSON with the right values")
    func escaping() throws {
        let ids = ["quote\"back\\slash", "nl\ncr\rtab\t", "\u{0}\u{1}\u{1f}\u{7f}", "é日本😀", "</script>"]
        for id in ids {
            let text = line(source: "tcp:\"peer\"", id: id, .reject(.badJSON))
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
            #expect(object["id"] as? String == id)
            #expect(object["src"] as? String == "tcp:\"peer\"")
            #expect(object["cluster"] is NSNull)
        }
        #expect(DecisionLineFormatter.jsonEscaped("a\"\\\u{1}b\n") == Array(#"a\"\\\u0001b\u000a"#.utf8))
    }

    @Test("timestamps: the epoch, before it, leap days, century rules")
    func timestamps() {
        func ts(_ ms: Int64) -> String {
            let text = line(ts: ms, .reject(.badID))
            let start = text.index(text.startIndex, offsetBy: 7)
            return String(text[start..<text.index(start, offsetBy: 24)])
        }
        #expect(ts(0) == "1970-01-01T00:00:00.000Z")
        #expect(ts(-1) == "1969-12-31T23:59:59.999Z")
        #expect(ts(1_795_708_732_123) == "2026-11-26T15:58:52.123Z")
        #expect(ts(1_709_251_199_999) == "2024-02-29T23:59:59.999Z")
        #expect(ts(951_868_800_000) == "2000-03-01T00:00:00.000Z")
        #expect(ts(951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(ts(4_107_542_400_000) == "2100-03-01T00:00:00.000Z")
        // Same formatter across days: the per-day cache must follow.
        var formatter = DecisionLineFormatter()
        var buffer: [UInt8] = []
        for ms: Int64 in [86_399_999, 86_400_000, 0] {
            formatter.append(ts: ms, source: [], seq: 0, id: "", decision: .reject(.badID), to: &buffer)
        }
        let text = String(decoding: buffer, as: UTF8.self)
        #expect(text.contains("1970-01-01T23:59:59.999Z"))
        #expect(text.contains("1970-01-02T00:00:00.000Z"))
        #expect(text.components(separatedBy: "1970-01-01T00:00:00.000Z").count == 2)
    }
}
