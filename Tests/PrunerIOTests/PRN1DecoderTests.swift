// RecordDecoder on PRN1 streams: round trips through RecordEncoder for every
// dtype, each rejection class followed by a good record, fatal framing errors.

import PrunerCore
import PrunerIO
import Testing

@Suite("RecordDecoder PRN1")
struct PRN1DecoderTests {
    /// A PRN1 record with every field under the test's control, valid or not.
    static func rawRecord(
        length: Int? = nil, dtype: UInt8 = 1, flags: UInt8 = 0, dim: Int, idLength: Int? = nil,
        id: [UInt8], payload: [UInt8]
    ) -> [UInt8] {
        let body: [UInt8] = [dtype, flags, UInt8(dim & 0xFF), UInt8(dim >> 8),
                             UInt8((idLength ?? id.count) & 0xFF), UInt8((idLength ?? id.count) >> 8)] + id + payload
        let n = length ?? body.count
        return Array("PRN1".utf8) + [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)] + body
    }

    static func floats(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    }

    @Test("every dtype round-trips through RecordEncoder, with and without score, in any chunking")
    func roundTrip() {
        var rng = SplitMix64(seed: 7)
        var stream: [UInt8] = []
        var expected: [CapturedEvent] = []
        for i in 0..<60 {
            let dtype = ElementType.allCases[i % 3]
            let dim = [1, 3, 384, 1024][i % 4]
            let vector = randomVector(dim, &rng)
            let score: Float? = i % 2 == 0 ? Float(i) / 7 : nil
            let id = "rec-\(i)-é✓"
            stream += RecordEncoder.prn1(id: id, vector: vector, dtype: dtype, score: score)
            let wire: [Float]
            switch dtype {
            case .float32: wire = vector
            case .float16: wire = vector.map { Float(Float16($0)) }
            case .bfloat16: wire = vector.map { Float(bitPattern: UInt32(RecordEncoder.bfloat16Bits($0)) << 16) }
            }
            expected.append(.record(id, wire, score: score))
        }
        for sizes in chunkPatterns(seed: 1, count: stream.count) {
            let result = decodeRecords(stream, sizes: sizes)
            #expect(result.error == nil)
            #expect(result.encoding == .prn1)
            #expect(result.events == expected, "chunks \(sizes.prefix(3))")
        }
    }

    @Test("float16 and bfloat16 decode within their rounding of the float32 vector")
    func precisionAcrossDtypes() {
        var rng = SplitMix64(seed: 99)
        let vector = randomVector(768, &rng) + [0, -0.0, 1e-6, 65504, -2.5, 3.0e-5]
        var decoded: [ElementType: [Float]] = [:]
        for dtype in ElementType.allCases {
            let bytes = RecordEncoder.prn1(id: "v", vector: vector, dtype: dtype, score: nil)
            decoded[dtype] = decodeRecords(bytes, sizes: [bytes.count]).events.first?.vector
        }
        #expect(decoded[.float32] == vector)
        for (i, x) in vector.enumerated() {
            // float16: 11-bit significand (relative 2^-11) above 2^-14, absolute 2^-25 below.
            let h = decoded[.float16]![i]
            #expect(abs(h - x) <= max(abs(x) * 0x1p-11, 0x1p-25), "f16 \(x) → \(h)")
            // bfloat16: 8-bit significand.
            let b = decoded[.bfloat16]![i]
            #expect(abs(b - x) <= abs(x) * 0x1p-8, "bf16 \(x) → \(b)")
        }
    }

    @Test("the fast float16 conversion is exact for all 65536 bit patterns")
    func halfConversionExhaustive() {
        // Decode every half through the record path and compare with Swift's Float16.
        let bits = (0...UInt16.max).map { $0 }
        let payload = bits.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        var stream: [UInt8] = []
        for part in 0..<2 {  // dim is u16: two records of 32768
            let slice = Array(payload[(part * 65536)..<((part + 1) * 65536)])
            stream += Self.rawRecord(dtype: 2, dim: 32768, id: Array("h".utf8), payload: slice)
        }
        let events = decodeRecords(stream, sizes: [stream.count]).events
        let decoded = events.compactMap(\.vector).flatMap { $0 }
        #expect(decoded.count == 65536)
        var mismatches = 0
        for (i, f) in decoded.enumerated() {
            let reference = Float(Float16(bitPattern: UInt16(i)))
            // NaNs: Swift may quiet signalling NaNs, we keep the payload; both are NaN.
            if reference.isNaN ? !f.isNaN : f.bitPattern != reference.bitPattern {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
    }

    @Test("each rejection class yields one event and the next record still decodes")
    func rejections() {
        let good = RecordEncoder.prn1(id: "next", vector: [1, 2, 3], dtype: .float32, score: 0.5)
        let goodEvent = CapturedEvent.record("next", [1, 2, 3], score: 0.5)
        let id = Array("bad".utf8)
        let cases: [(String, [UInt8], CapturedEvent)] = [
            ("unknown dtype", Self.rawRecord(dtype: 9, dim: 2, id: id, payload: [1, 2, 3, 4, 5]),
             .rejected(id: "bad", reason: .badDtype)),
            ("dtype 0", Self.rawRecord(dtype: 0, dim: 1, id: id, payload: []),
             .rejected(id: "bad", reason: .badDtype)),
            ("reserved flag", Self.rawRecord(flags: 0x02, dim: 1, id: id, payload: Self.floats([1])),
             .rejected(id: "bad", reason: .badFlags)),
            ("dim 0", Self.rawRecord(dim: 0, id: id, payload: []),
             .rejected(id: "bad", reason: .badDimension)),
            ("id_len 0", Self.rawRecord(dim: 1, id: [], payload: Self.floats([1])),
             .rejected(id: "", reason: .badID)),
            ("id_len 1025", Self.rawRecord(dim: 1, id: Array(repeating: 0x61, count: 1025), payload: Self.floats([1])),
             .rejected(id: "", reason: .badID)),
            ("invalid UTF-8 id", Self.rawRecord(dim: 1, id: [0x61, 0xFF, 0xC3], payload: Self.floats([1])),
             .rejected(id: "", reason: .badID)),
            ("length too short for vector", Self.rawRecord(dim: 3, id: id, payload: Self.floats([1, 2])),
             .rejected(id: "bad", reason: .badLength)),
            ("length too long", Self.rawRecord(dim: 1, id: id, payload: Self.floats([1]) + [0]),
             .rejected(id: "bad", reason: .badLength)),
            ("score flag without score", Self.rawRecord(flags: 1, dim: 1, id: id, payload: Self.floats([1])),
             .rejected(id: "bad", reason: .badLength)),
            ("id_len beyond length", Self.rawRecord(length: 8, dim: 1, idLength: 40, id: [0x61, 0x62], payload: []),
             .rejected(id: "", reason: .badLength)),
        ]
        for (label, record, expected) in cases {
            let stream = good + record + good
            for sizes in [[1], [5, 3], [stream.count]] {
                let result = decodeRecords(stream, sizes: sizes)
                #expect(result.error == nil, "\(label)")
                #expect(result.events == [goodEvent, expected, goodEvent], "\(label) chunks \(sizes)")
            }
        }
        // A 1024-byte id is fine.
        let longID = String(repeating: "x", count: 1024)
        let ok = RecordEncoder.prn1(id: longID, vector: [1], dtype: .float16, score: nil)
        #expect(decodeRecords(ok, sizes: [7]).events == [.record(longID, [1])])
    }

    @Test("a wrong magic is fatal at the record's offset, after the records before it")
    func wrongMagic() throws {
        let good = RecordEncoder.prn1(id: "a", vector: [1], dtype: .float32, score: nil)
        var bad = good
        bad[3] = UInt8(ascii: "2")
        for sizes in [[1], [good.count + 2], [100]] {
            let result = decodeRecords(good + good + bad + good, sizes: sizes)
            let error = try #require(result.error)
            #expect(error.layer == .record)
            #expect(error.offset == UInt64(2 * good.count))
            #expect(error.reason.contains("50 52 4e 32"), "\(error.reason)")
            #expect(result.events == [.record("a", [1]), .record("a", [1])])
        }
    }

    @Test("a length over the maximum or under 6 is fatal")
    func fatalLengths() throws {
        let good = RecordEncoder.prn1(id: "a", vector: [1], dtype: .float32, score: nil)
        let huge = Self.rawRecord(length: 5000, dim: 1, id: [0x61], payload: [])
        let result = decodeRecords(good + huge, sizes: [3], maxRecordSize: 4096)
        let error = try #require(result.error)
        #expect(error.offset == UInt64(good.count))
        #expect(error.reason.contains("5000"))
        let tiny = Self.rawRecord(length: 5, dim: 1, id: [], payload: [])
        let tinyResult = decodeRecords(tiny + good, sizes: [100])
        #expect(try #require(tinyResult.error).offset == 0)
    }

    @Test("a record truncated at end of input makes finish() throw")
    func truncated() throws {
        let good = RecordEncoder.prn1(id: "a", vector: [1, 2, 3], dtype: .float16, score: 1)
        for cut in [1, 4, 8, 9, good.count - 1] {
            for sizes in [[1], [100]] {
                let result = decodeRecords(good + good.prefix(cut), sizes: sizes)
                let error = try #require(result.error, "cut \(cut)")
                #expect(error.offset == UInt64(good.count))
                #expect(error.reason.contains("truncated"))
                #expect(result.events.count == 1)
            }
        }
    }

    @Test("the first byte picks the encoding; anything else is fatal")
    func detection() throws {
        #expect(decodeRecords(Array("  \n{\"id\":\"a\",\"embedding\":[1]}".utf8), sizes: [1]).encoding == .jsonLines)
        let result = decodeRecords(Array("\n  xyz".utf8), sizes: [2])
        let error = try #require(result.error)
        #expect(error.offset == 3)
        #expect(error.reason.hasPrefix("this is text that is not JSON Lines (a JSON Lines record starts with '{')"))
        let empty = decodeRecords(Array(" \n\n".utf8), sizes: [1])
        #expect(empty.error == nil && empty.events.isEmpty && empty.encoding == nil)
    }
    /// Found by fuzz-prn1: the error naming unreadable content used to depend on
    /// how the stream was cut into reads (the whole first read was classified, so
    /// the same bytes were "unrecognised data" from a file and "text" from a socket
    /// sending them one by one; a read ending after a `P` made PAR1 a PRN1 error).
    @Test("unreadable content gets the same error however the stream is cut")
    func detectionIsIndependentOfReadSizes() throws {
        let streams: [[UInt8]] = [
            [0xEE, 0xEE, 0xEE, 0xC7, 0xFF, 0x00, 0x01] + Array("{{{{{{{{{{{{{{{{{{{{{{;{{{".utf8),
            Array("PAR1 and then some more bytes".utf8),
            Array("PK\u{3}\u{4}zip".utf8),
            Array("  hello, world".utf8),
            [0x00, 0x01, 0x02],
            Array("\n  xyz".utf8),
        ]
        for stream in streams {
            let whole = try #require(decodeRecords(stream, sizes: [stream.count]).error)
            for sizes in [[1], [2], [3], [5, 1], [15, 1, 100]] {
                let cut = try #require(decodeRecords(stream, sizes: sizes).error)
                #expect(cut == whole, "\(stream.prefix(4)) in pieces \(sizes)")
            }
        }
        #expect(try #require(decodeRecords(Array("PAR1xxxx".utf8), sizes: [1]).error).reason.contains("Parquet"))
        // A lone `P` is still a truncated PRN1 stream, and a `P` read alone still starts PRN1.
        #expect(try #require(decodeRecords(Array("P".utf8), sizes: [1]).error).reason.contains("truncated PRN1"))
        let good = RecordEncoder.prn1(id: "a", vector: [1, 2, 3], dtype: .float32, score: nil)
        let split = decodeRecords(good, sizes: [1])
        #expect(split.error == nil && split.events.count == 1 && split.encoding == .prn1)
    }
}
