// One JSON Lines line → one record event: {"id": "...", "embedding": [...], "score": n}.
// Other keys are skipped whatever their value. What a bad line becomes:
//   not a JSON object / no or bad `embedding` / bad `score`  → bad_json
//   missing, non-string, empty, over-long or non-UTF-8 `id`  → bad_id
//   `embedding: []`                                          → bad_dimension

import PrunerCore

/// Parses record lines, reusing its scratch buffers across lines.
struct JSONRecordParser {
    private var vector: [Float] = []
    private var key: [UInt8] = []
    private var idBytes: [UInt8] = []
    private var numberScratch: [CChar] = []

    /// Parses one line (without its `\n`). Blank lines produce no event.
    mutating func parse(_ line: UnsafeRawBufferPointer, _ sink: (RecordEvent) -> Void) {
        var cursor = JSONCursor(line)
        cursor.skipWhitespace()
        if cursor.atEnd { return }

        var id: String?
        var idProblem = false       // present but unusable
        var embeddingSeen = false
        var embeddingProblem = false
        var score: Float?
        var scoreProblem = false
        vector.removeAll(keepingCapacity: true)

        let wellFormed: Bool = {
            guard cursor.consume(UInt8(ascii: "{")) else { return false }
            if cursor.consume(UInt8(ascii: "}")) { return cursor.restIsWhitespace() }
            repeat {
                cursor.skipWhitespace()
                key.removeAll(keepingCapacity: true)
                var lossless = true
                guard cursor.readString(into: &key, lossless: &lossless), cursor.consume(UInt8(ascii: ":")) else {
                    return false
                }
                cursor.skipWhitespace()
                switch KnownKey(key) {
                case .id:
                    if cursor.peek == UInt8(ascii: "\"") {
                        idBytes.removeAll(keepingCapacity: true)
                        var idLossless = true
                        guard cursor.readString(into: &idBytes, lossless: &idLossless) else { return false }
                        id = nil
                        idProblem = !idLossless || idBytes.isEmpty || idBytes.count > PRN1Framer.maxIDLength
                        if !idProblem {
                            id = idBytes.withUnsafeBufferPointer(validatedUTF8)
                            idProblem = id == nil
                        }
                    } else {
                        guard cursor.skipValue() else { return false }
                        id = nil
                        idProblem = true
                    }
                case .embedding:
                    embeddingSeen = true
                    embeddingProblem = false
                    vector.removeAll(keepingCapacity: true)
                    if cursor.peek == UInt8(ascii: "[") {
                        guard readVector(&cursor, problem: &embeddingProblem) else { return false }
                    } else {
                        guard cursor.skipValue() else { return false }
                        embeddingProblem = true
                    }
                case .score:
                    if cursor.skipLiteralIfNull() {
                        score = nil
                        scoreProblem = false
                    } else if let value = cursor.readNumber(scratch: &numberScratch) {
                        score = value
                        scoreProblem = false
                    } else {
                        guard cursor.skipValue() else { return false }
                        scoreProblem = true
                    }
                case .other:
                    guard cursor.skipValue() else { return false }
                }
            } while cursor.consume(UInt8(ascii: ","))
            return cursor.consume(UInt8(ascii: "}")) && cursor.restIsWhitespace()
        }()

        let usableID = idProblem ? nil : id
        guard wellFormed else { return sink(.rejected(id: usableID ?? "", reason: .badJSON)) }
        guard let usableID else { return sink(.rejected(id: "", reason: .badID)) }
        guard embeddingSeen, !embeddingProblem, !scoreProblem else {
            return sink(.rejected(id: usableID, reason: .badJSON))
        }
        guard !vector.isEmpty else { return sink(.rejected(id: usableID, reason: .badDimension)) }
        vector.withUnsafeBufferPointer { sink(.record(id: usableID, vector: $0, score: score)) }
    }

    /// Reads `[n, n, …]` into `vector`. Returns false on malformed JSON;
    /// sets `problem` when the array is valid JSON but holds a non-number.
    private mutating func readVector(_ cursor: inout JSONCursor, problem: inout Bool) -> Bool {
        _ = cursor.consume(UInt8(ascii: "["))
        if cursor.consume(UInt8(ascii: "]")) { return true }
        repeat {
            cursor.skipWhitespace()
            if !problem, let value = cursor.readNumber(scratch: &numberScratch) {
                vector.append(value)
            } else {
                problem = true
                guard cursor.skipValue() else { return false }
            }
        } while cursor.consume(UInt8(ascii: ","))
        return cursor.consume(UInt8(ascii: "]"))
    }
}

/// The keys a record line means something by.
private enum KnownKey {
    case id, embedding, score, other

    init(_ bytes: [UInt8]) {
        if bytes == Self.idKey {
            self = .id
        } else if bytes == Self.embeddingKey {
            self = .embedding
        } else if bytes == Self.scoreKey {
            self = .score
        } else {
            self = .other
        }
    }

    private static let idKey = Array("id".utf8)
    private static let embeddingKey = Array("embedding".utf8)
    private static let scoreKey = Array("score".utf8)
}

extension JSONCursor {
    /// Whether only whitespace remains (a line holds exactly one value).
    mutating func restIsWhitespace() -> Bool {
        skipWhitespace()
        return atEnd
    }

    /// `"score": null` means no score, as producers that write nulls for absent fields expect.
    mutating func skipLiteralIfNull() -> Bool {
        peek == UInt8(ascii: "n") && skipLiteral("null")
    }
}
