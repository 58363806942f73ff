// The caller's side of the narrow engine boundary: every record in arrival order
// with what the log needs of it (origin, id, rejection), paired with the engine's
// decisions for the valid ones as they come out. Records without a vector
// (rejections, repeated ids) are answered here, in their place in the order.
import DequeModule

/// Records given to the engine and not yet answered, in arrival order.
///
/// Why outside the engine: the engine decides valid rows and never reads ids,
/// origins or rejections; they travelled through its held queue and checkpoint only
/// to come out in log order. The engine answers valid rows in arrival order, so
/// pairing its answers with this queue gives the same lines in the same order.
/// Owns checkpoint section `ORDR`.
public struct ArrivalOrder: Sendable {
    /// Waiting records, oldest first (`row` ≥ 0: waits for an engine decision).
    public private(set) var waiting = Deque<RecordBatch.Entry>()
    /// Rejections answered so far, per reason (the engine's snapshot has none).
    public private(set) var rejected: [RejectReason: Int] = [:]

    /// Nothing waiting.
    public init() {}

    /// Records waiting (valid or not).
    public var count: Int { waiting.count }
    /// Origins of every record not yet answered: what a restart decides by itself.
    public var origins: [RecordOrigin] { waiting.map(\.origin) }

    /// Queues a batch's records (all of them: the valid ones wait for the engine).
    public mutating func append(_ batch: RecordBatch) {
        waiting.append(contentsOf: batch.entries)
    }

    /// Pairs the engine's decisions for the next valid records with them, answering the
    /// records without a vector before, between and after them in their places.
    /// - Precondition: no more decisions than valid records waiting.
    public mutating func pair(_ decisions: [Decision]) -> DecidedRecords {
        var out = DecidedRecords()
        out.entries.reserveCapacity(decisions.count)
        out.decisions.reserveCapacity(decisions.count)
        for decision in decisions {
            answerPassThrough(into: &out)
            out.entries.append(waiting.removeFirst())
            out.decisions.append(decision)
        }
        answerPassThrough(into: &out)
        return out
    }

    /// Answers the records without a vector at the head of the queue.
    private mutating func answerPassThrough(into out: inout DecidedRecords) {
        while let head = waiting.first, head.row < 0 {
            let decision = Decision.passThrough(head)
            if case .rejected(let reason) = decision.reason { rejected[reason, default: 0] += 1 }
            out.entries.append(head)
            out.decisions.append(decision)
            waiting.removeFirst()
        }
    }

    /// Rebuilds the queue from records of a checkpoint (versions that kept them in the engine).
    init(waiting entries: [RecordBatch.Entry], rejected: [RejectReason: Int]) {
        waiting = Deque(entries)
        self.rejected = rejected
    }

    func write(to w: inout ByteWriter) {
        EntryCoding.write(entries: Array(waiting), to: &w)
        let counts = RejectReason.allCases.filter { (rejected[$0] ?? 0) > 0 }
        w.int(counts.count)
        for reason in counts { w.u8(reason.checkpointCode); w.int(rejected[reason]!) }
    }

    init(reading r: inout ByteReader) throws {
        let entries = try EntryCoding.readEntries(&r)
        let reasons = try r.count(elementSize: 9)
        for _ in 0..<reasons {
            let code = try r.u8(), count = try r.int()
            guard let reason = RejectReason(checkpointCode: code) else { throw CheckpointError.malformed("rejection code \(code)") }
            rejected[reason] = count
        }
        waiting = Deque(entries)
    }
}
