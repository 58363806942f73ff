// The `.npy` header is a Python dict literal, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// This reads just that subset of Python syntax: quoted strings, True/False,
// and tuples of integers.

/// A value in a `.npy` header dictionary.
enum NPYHeaderValue: Equatable {
    case string(String)
    case bool(Bool)
    case tuple([Int])
}

/// A tiny recursive-descent reader for the header dictionary.
struct NPYHeaderParser {
    private let text: [UInt8]
    private var position = 0

    init(_ text: [UInt8]) {
        self.text = text
    }

    mutating func parseDictionary() throws -> [String: NPYHeaderValue] {
        var result: [String: NPYHeaderValue] = [:]
        try expect("{")
        while true {
            skipSpace()
            if peek == UInt8(ascii: "}") { position += 1; break }
            let key = try parseString()
            try expect(":")
            result[key] = try parseValue()
            skipSpace()
            if peek == UInt8(ascii: ",") { position += 1; continue }
            try expect("}")
            break
        }
        return result
    }

    private var peek: UInt8? { position < text.count ? text[position] : nil }

    private mutating func skipSpace() {
        while let c = peek, c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D { position += 1 }
    }

    private mutating func expect(_ char: Character) throws {
        skipSpace()
        guard let c = peek, c == char.asciiValue else {
            throw NPYError("malformed header: expected '\(char)' at header byte \(position)")
        }
        position += 1
    }

    private mutating func parseString() throws -> String {
        skipSpace()
        guard let quote = peek, quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") else {
            throw NPYError("malformed header: expected a quoted string at header byte \(position)")
        }
        position += 1
        let start = position
        while let c = peek, c != quote { position += 1 }
        guard peek == quote else { throw NPYError("malformed header: unterminated string") }
        let value = String(decoding: text[start..<position], as: UTF8.self)
        position += 1
        return value
    }

    private mutating func parseValue() throws -> NPYHeaderValue {
        skipSpace()
        switch peek {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "("):
            position += 1
            var items: [Int] = []
            while true {
                skipSpace()
                if peek == UInt8(ascii: ")") { position += 1; break }
                items.append(try parseInteger())
                skipSpace()
                if peek == UInt8(ascii: ",") { position += 1; continue }
                try expect(")")
                break
            }
            return .tuple(items)
        default:
            if matchWord("True") { return .bool(true) }
            if matchWord("False") { return .bool(false) }
            throw NPYError("malformed header: unexpected value at header byte \(position)")
        }
    }

    private mutating func parseInteger() throws -> Int {
        var value = 0
        var digits = 0
        while let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
            let (next, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { throw NPYError("shape dimension too large") }
            value = next + Int(c - UInt8(ascii: "0"))
            digits += 1
            position += 1
        }
        // Python 2 era numpy wrote longs as `3L`.
        if peek == UInt8(ascii: "L") { position += 1 }
        guard digits > 0 else { throw NPYError("malformed header: expected an integer at header byte \(position)") }
        return value
    }

    private mutating func matchWord(_ word: String) -> Bool {
        let bytes = Array(word.utf8)
        guard position + bytes.count <= text.count, Array(text[position..<position + bytes.count]) == bytes else {
            return false
        }
        position += bytes.count
        return true
    }
}
