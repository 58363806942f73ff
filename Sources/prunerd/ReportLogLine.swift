// The four fields `prunerd report` needs from a decision line (ts, id,
// decision, cluster), read by position from the layout prunerd writes, so a
// million-line log takes seconds. Sound for that layout: `,"id":"` and the
// other markers cannot occur inside a JSON string (a quote there is always
// escaped). Lines in another layout fall back to the full JSON parser.

struct DecisionLineFields {
    var milliseconds: Int64?
    var id: String
    var decision: String
    var cluster: Int?

    static func read(_ line: UnsafeRawBufferPointer) -> DecisionLineFields? {
        let bytes = line.bindMemory(to: UInt8.self)
        guard let idStart = find(Self.idMarker, in: bytes, from: 0),
              let idEnd = stringEnd(in: bytes, from: idStart),
              let decisionStart = find(Self.decisionMarker, in: bytes, from: idEnd),
              let decisionEnd = stringEnd(in: bytes, from: decisionStart) else { return generic(line) }
        var fields = DecisionLineFields(milliseconds: nil, id: "", decision: "", cluster: nil)
        let rawID = UnsafeBufferPointer(rebasing: bytes[idStart..<idEnd])
        if rawID.contains(UInt8(ascii: "\\")) {
            guard let decoded = try? JSONParser.parse(Array(bytes[(idStart - 1)...idEnd])).string else { return generic(line) }
            fields.id = decoded
        } else {
            fields.id = String(decoding: rawID, as: UTF8.self)
        }
        fields.decision = String(decoding: UnsafeBufferPointer(rebasing: bytes[decisionStart..<decisionEnd]), as: UTF8.self)
        if let tsStart = find(Self.tsMarker, in: bytes, from: 0), tsStart < idStart, tsStart + 24 <= bytes.count {
            fields.milliseconds = ReportFormat.millisecondsSinceEpoch(rfc3339: String(decoding: UnsafeBufferPointer(rebasing: bytes[tsStart..<tsStart + 24]), as: UTF8.self))
        }
        if let clusterStart = find(Self.clusterMarker, in: bytes, from: decisionEnd) {
            var value = 0, index = clusterStart, digits = 0
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39, digits < 12 {
                value = value * 10 + Int(bytes[index] - 0x30)
                index += 1
                digits += 1
            }
            if digits > 0 { fields.cluster = value }
        }
        return fields
    }

    private static let tsMarker = Array("{\"ts\":\"".utf8)
    private static let idMarker = Array(",\"id\":\"".utf8)
    private static let decisionMarker = Array(",\"decision\":\"".utf8)
    private static let clusterMarker = Array(",\"cluster\":".utf8)

    /// The index just after `marker`'s first occurrence at or after `start`.
    private static func find(_ marker: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard bytes.count >= marker.count else { return nil }
        var index = start
        let first = marker[0]
        while index + marker.count <= bytes.count {
            if bytes[index] == first {
                var matched = true
                for offset in 1..<marker.count where bytes[index + offset] != marker[offset] { matched = false; break }
                if matched { return index + marker.count }
            }
            index += 1
        }
        return nil
    }

    /// The index of the quote that closes the string whose contents start at `start`.
    private static func stringEnd(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var index = start
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""): return index
            default: index += 1
            }
        }
        return nil
    }

    private static func generic(_ line: UnsafeRawBufferPointer) -> DecisionLineFields? {
        guard let entry = try? JSONParser.parse(Array(line)), let decision = entry["decision"]?.string,
              let id = entry["id"]?.string else { return nil }
        return DecisionLineFields(milliseconds: entry["ts"]?.string.flatMap(ReportFormat.millisecondsSinceEpoch(rfc3339:)),
                                  id: id, decision: decision, cluster: entry["cluster"]?.int)
    }
}
