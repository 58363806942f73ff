// The streaming .npy framer: any chunking of the bytes gives the same rows, arrays
// may follow one another, and a cut-short array or header is an error at its offset.
import PrunerCore
import PrunerIO
import Testing

@Suite("NPY streaming")
struct NPYStreamTests {
    static func decode(_ bytes: [UInt8], chunk: Int) -> (ids: [String], vectors: [[Float]], error: StreamError?) {
        var decoder = RecordDecoder()
        var ids: [String] = []
        var vectors: [[Float]] = []
        let sink = { (event: RecordEvent) in
            if case .record(let id, let vector, _) = event {
                ids.append(id)
                vectors.append(Array(vector))
            }
        }
        do throws(StreamError) {
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + chunk)
                let piece = Array(bytes[start..<end])
                let result = piece.withUnsafeBytes { raw in Result { () throws(StreamError) in try decoder.feed(raw, sink) } }
                try result.get()
                start = end
            }
            try decoder.finish(sink)
        } catch {
            return (ids, vectors, error)
        }
        return (ids, vectors, nil)
    }

    @Test("every chunk size gives the same rows; two arrays in a row are one stream with row-number ids")
    func chunking() {
        let a = (0..<35).map { Float($0) - 17.5 }
        let b = (0..<14).map { Float($0) * 0.25 }
        let bytes = NPYArray.encodeFloat32(rows: 5, columns: 7, values: a) + NPYArray.encodeFloat32(rows: 2, columns: 7, values: b)
        for chunk in [1, 2, 3, 7, 13, 64, 100, bytes.count] {
            let result = Self.decode(bytes, chunk: chunk)
            #expect(result.error == nil, "chunk \(chunk): \(String(describing: result.error))")
            #expect(result.ids == (0..<7).map(String.init), "chunk \(chunk)")
            #expect(result.vectors.flatMap { $0 } == a + b, "chunk \(chunk)")
        }
    }

    @Test("truncated data, a different dimension and garbage after an array are errors")
    func errors() {
        let array = NPYArray.encodeFloat32(rows: 4, columns: 3, values: [Float](repeating: 1, count: 12))
        let truncated = Self.decode(Array(array.dropLast(5)), chunk: 16)
        #expect(truncated.error?.reason.hasPrefix("truncated .npy: the input ends inside row 3 of 4 × 3 '<f4'") == true)
        #expect(truncated.ids.count == 3)
        let other = array + NPYArray.encodeFloat32(rows: 1, columns: 2, values: [1, 2])
        #expect(Self.decode(other, chunk: 50).error?.reason.contains("expected 3, got 2") == true)
        let garbage = Self.decode(array + Array("junk".utf8), chunk: 50)
        #expect(garbage.error?.reason.hasPrefix("after 4 rows, expected another .npy array or the end") == true)
        #expect(garbage.error?.offset == UInt64(array.count))
    }
}
