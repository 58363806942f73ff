// What the engine says about one record: the content of one decision log line
// minus the timestamp and the record's origin.

/// The verdict on one record.
public enum Verdict: String, Sendable, Codable {
    case keep
    case drop
    case reject
}

/// Why a record got its verdict. Raw values are the log's `reason` field.
public enum DecisionReason: Sendable, Hashable {
    /// `hard`/`easy` modes: the record's distance lies on the kept side of its concept's threshold.
    case withinQuota
    /// `hard`/`easy` modes: the record lies on the dropped side of its concept's threshold.
    case overQuota
    /// `random` mode: the record was (or was not) drawn at the concept's keep rate.
    case sampled
    case notSampled
    /// A near-copy of an earlier record of the same concept (SemDeDup).
    case duplicate
    /// The record's `score` is below `--min-score`.
    case lowScore
    /// `--unique-ids`: a record with this id was already decided (or was waiting for the engine).
    case duplicateID
    /// The record could not be used.
    case rejected(RejectReason)

    /// The log spelling of the reason.
    public var logValue: String {
        switch self {
        case .withinQuota: return "within_quota"
        case .overQuota: return "over_quota"
        case .sampled: return "sampled"
        case .notSampled: return "not_sampled"
        case .duplicate: return "duplicate"
        case .lowScore: return "low_score"
        case .duplicateID: return "duplicate_id"
        case .rejected(let reason): return reason.rawValue
        }
    }
}

/// The engine's decision on one record.
public struct Decision: Sendable, Equatable {
    public var verdict: Verdict
    public var reason: DecisionReason
    /// The concept the record was assigned to, or `nil` (rejections, score filter).
    public var cluster: Int32?
    /// Cosine distance (1 − cos) from the record to its concept's centroid; `nil` when unassigned.
    public var distance: Float?
    /// The concept's threshold when the decision was made; `nil` when none applies.
    public var threshold: Float?

    public init(verdict: Verdict, reason: DecisionReason, cluster: Int32?, distance: Float?, threshold: Float?) {
        self.verdict = verdict
        self.reason = reason
        self.cluster = cluster
        self.distance = distance
        self.threshold = threshold
    }

    /// The decision for a record that could not be used.
    public static func reject(_ reason: RejectReason) -> Decision {
        Decision(verdict: .reject, reason: .rejected(reason), cluster: nil, distance: nil, threshold: nil)
    }

    /// The answer to a record whose id was already seen (`--unique-ids`): dropped
    /// without the engine, so a sender's retry never adds a second copy to the kept set.
    public static let duplicateID = Decision(verdict: .drop, reason: .duplicateID, cluster: nil, distance: nil, threshold: nil)

    /// The decision for an entry that carries no vector: a rejection or a repeated id.
    public static func passThrough(_ entry: RecordBatch.Entry) -> Decision {
        entry.isDuplicateID ? .duplicateID : .reject(entry.rejection ?? .badDimension)
    }
}

/// A batch's entries paired with their decisions, in the order they must be logged.
public struct DecidedRecords: Sendable {
    public var entries: [RecordBatch.Entry]
    public var decisions: [Decision]

    public init(entries: [RecordBatch.Entry] = [], decisions: [Decision] = []) {
        precondition(entries.count == decisions.count)
        self.entries = entries
        self.decisions = decisions
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    public mutating func append(contentsOf other: DecidedRecords) {
        entries.append(contentsOf: other.entries)
        decisions.append(contentsOf: other.decisions)
    }
}
