// fuzz-lz4-stream: the LZ4 frame / raw pass-through layer.

import PrunerIO

/// Decodes the input whole and in pieces; both must agree.
enum LZ4StreamFuzzing {
    /// What a decode produced.
    struct Outcome {
        var error: StreamError?
        var output: [UInt8] = []
        var consumed: UInt64 = 0
    }

    static func run(_ input: UnsafeRawBufferPointer) throws(FuzzFailure) {
        guard let control = input.first else { return }
        let stream = payload(input)
        let whole = decode(stream, Chunking(control: 0))
        let pieces = decode(stream, Chunking(control: control))
        // Error offsets may legitimately differ by where a piece ended (liblz4
        // reports at the call that sees the bad byte); success and output may not.
        guard (whole.error == nil) == (pieces.error == nil) else {
            throw FuzzFailure("whole input \(whole.error.map { "\($0)" } ?? "decodes"), in pieces \(pieces.error.map { "\($0)" } ?? "decodes")")
        }
        if whole.error == nil {
            guard whole.output == pieces.output else {
                throw FuzzFailure("output differs: \(whole.output.count) bytes whole, \(pieces.output.count) in pieces")
            }
            guard whole.consumed == UInt64(stream.count), pieces.consumed == UInt64(stream.count) else {
                throw FuzzFailure("consumed \(whole.consumed) / \(pieces.consumed) of \(stream.count) bytes")
            }
        }
    }

    static func decode(_ stream: UnsafeRawBufferPointer, _ chunking: Chunking) -> Outcome {
        let decoder = LZ4StreamDecoder()
        var outcome = Outcome()
        var oversized = false
        do throws(StreamError) {
            try chunking.forEachPiece(of: stream) { (piece) throws(StreamError) in
                try decoder.feed(piece) { out in
                    if out.count > LZ4StreamDecoder.outputChunkSize { oversized = true }
                    outcome.output.append(contentsOf: out)
                }
            }
            try decoder.finish()
        } catch {
            outcome.error = error
        }
        precondition(!oversized, "LZ4StreamDecoder delivered a chunk over outputChunkSize")
        outcome.consumed = decoder.consumedBytes
        return outcome
    }
}
