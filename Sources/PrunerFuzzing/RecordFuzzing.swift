// fuzz-prn1 and fuzz-json-lines: the record decoder, for either encoding.

import PrunerCore
import PrunerIO

/// Decodes the input whole and in pieces; the events and the error must be the same.
enum RecordFuzzing {
    /// One event, reduced to comparable values (vector bits included).
    enum Event: Equatable {
        case record(id: String, bits: [UInt32], score: UInt32?)
        case rejected(id: String, reason: RejectReason)
    }

    /// The control byte's top two bits pick the maximum record size, so that
    /// `too_large` and the length limit are reached by small inputs too.
    static let maxRecordSizes = [16, 64, 300, 1 << 20]

    static func run(_ input: UnsafeRawBufferPointer) throws(FuzzFailure) {
        guard let control = input.first else { return }
        let stream = payload(input)
        let maxRecordSize = maxRecordSizes[Int(control >> 6)]
        let whole = decode(stream, Chunking(control: 0), maxRecordSize: maxRecordSize)
        let pieces = decode(stream, Chunking(control: control & 0x3F), maxRecordSize: maxRecordSize)
        guard whole.events == pieces.events else {
            throw FuzzFailure("events differ: \(whole.events.count) whole, \(pieces.events.count) in pieces; first difference at \(zip(whole.events, pieces.events).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(whole.events.count, pieces.events.count))")
        }
        guard whole.error == pieces.error else {
            throw FuzzFailure("errors differ: whole \(whole.error.map { "\($0)" } ?? "none"), in pieces \(pieces.error.map { "\($0)" } ?? "none")")
        }
    }

    static func decode(
        _ stream: UnsafeRawBufferPointer, _ chunking: Chunking, maxRecordSize: Int
    ) -> (events: [Event], error: StreamError?) {
        var decoder = RecordDecoder(maxRecordSize: maxRecordSize)
        var events: [Event] = []
        // What the daemon does next with a record: validate and normalise it into a batch.
        var batch = RecordBatch(dimension: 4)
        var seq: UInt64 = 0
        let sink = { (event: RecordEvent) in
            let origin = RecordOrigin(source: 0, seq: seq)
            seq += 1
            switch event {
            case .record(let id, let vector, let score):
                events.append(.record(id: id, bits: vector.map(\.bitPattern), score: score?.bitPattern))
                batch.append(origin: origin, id: id, score: score, vector: vector)
            case .rejected(let id, let reason):
                events.append(.rejected(id: id, reason: reason))
                batch.appendRejection(origin: origin, id: id, reason: reason)
            }
        }
        do throws(StreamError) {
            try chunking.forEachPiece(of: stream) { (piece) throws(StreamError) in try decoder.feed(piece, sink) }
            try decoder.finish(sink)
        } catch {
            return (events, error)
        }
        precondition(batch.count == events.count, "batch lost records")
        return (events, nil)
    }
}
