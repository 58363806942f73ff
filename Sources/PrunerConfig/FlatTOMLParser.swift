// The reader of prunerd's configuration files: the flat subset of TOML 1.0
// that `key = value` files of command-line options need, and nothing else.
//
// Why our own and not a TOML library: TOMLKit (toml++ underneath) leaked on
// every parse and aborted the process on malformed input (assertions inside
// toml++, found by fuzz-config; a SIGHUP reload of such a file would have
// killed the running daemon). A config file of prunerd has only top-level
// keys, so a strict reader of that subset is a few hundred lines that report
// every mistake as an error with its position instead of trapping.
//
// Accepted: comments, bare and quoted keys, basic strings with TOML's escapes,
// literal strings, integers (decimal, 0x, 0o, 0b, underscores between digits),
// floats (fraction, exponent, inf, nan), booleans, and arrays of those over
// several lines. Refused with a message saying so: tables, inline tables,
// dotted keys, dates and times, multi-line strings, nested arrays.

/// One `key = value` line of a configuration file, where it was written.
struct FlatTOMLEntry {
    var key: String
    var value: ConfigFile.Value
    /// Byte offset of the key's first byte (for "set twice" errors).
    var offset: Int
}

/// Why the bytes are not a flat TOML file, and the byte offset where that was seen.
struct FlatTOMLFailure: Error {
    var offset: Int
    var reason: String
}

/// A strict single-pass reader over UTF-8 bytes (validated by the caller).
struct FlatTOMLParser {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Every entry in file order; throws at the first mistake.
    mutating func parse() throws(FlatTOMLFailure) -> [FlatTOMLEntry] {
        // A UTF-8 byte-order mark is not content (editors on Windows write one).
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        var entries: [FlatTOMLEntry] = []
        var firstOffset: [String: Int] = [:]
        while true {
            try skipBlankLinesAndComments()
            guard let byte = peek() else { return entries }
            let keyOffset = index
            if byte == ascii("[") {
                throw fail("tables are not supported: keys are the long options of prunerd serve, at the top level")
            }
            let key = try parseKey()
            skipSpaces()
            if peek() == ascii(".") {
                throw fail("dotted keys are not supported (they are tables): keys are the long options of prunerd serve, at the top level")
            }
            guard peek() == ascii("=") else {
                throw fail("expected '=' after the key '\(key)', found \(describeHere())")
            }
            index += 1
            skipSpaces()
            let value = try parseValue(of: key)
            skipSpaces()
            try skipComment()
            try endLine(after: "the value of '\(key)'")
            if let first = firstOffset[key] {
                throw FlatTOMLFailure(offset: keyOffset, reason: "'\(key)' is set twice; first at \(Self.position(of: first, in: bytes))")
            }
            firstOffset[key] = keyOffset
            entries.append(FlatTOMLEntry(key: key, value: value, offset: keyOffset))
        }
    }

    /// "line L, column C" of a byte offset: lines count from 1, columns in characters from 1.
    static func position(of offset: Int, in bytes: [UInt8]) -> String {
        let (line, column) = lineAndColumn(of: offset, in: bytes)
        return "line \(line), column \(column)"
    }

    /// The line (from 1) and column (characters from 1) of a byte offset.
    static func lineAndColumn(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        let end = min(offset, bytes.count)
        var line = 1
        var column = 1
        for byte in bytes[..<end] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {  // not a UTF-8 continuation byte
                column += 1
            }
        }
        return (line, column)
    }

    // MARK: Lines, spaces, comments

    private func peek(_ ahead: Int = 0) -> UInt8? {
        index + ahead < bytes.count ? bytes[index + ahead] : nil
    }

    private func fail(_ reason: String) -> FlatTOMLFailure {
        FlatTOMLFailure(offset: index, reason: reason)
    }

    /// What is at the current position, for "expected X, found Y".
    private func describeHere() -> String {
        guard let byte = peek() else { return "the end of the file" }
        switch byte {
        case 0x0A, 0x0D: return "the end of the line"
        case 0x20...0x7E: return "'\(Character(Unicode.Scalar(byte)))'"
        default: return "byte 0x\(String(byte, radix: 16))"
        }
    }

    private mutating func skipSpaces() {
        while let byte = peek(), byte == 0x20 || byte == 0x09 { index += 1 }
    }

    /// A `#` comment up to (not including) the end of the line, if one starts here.
    private mutating func skipComment() throws(FlatTOMLFailure) {
        guard peek() == ascii("#") else { return }
        while let byte = peek(), byte != 0x0A, byte != 0x0D {
            if isForbiddenControl(byte) { throw fail("a control character (byte 0x\(String(byte, radix: 16))) in a comment") }
            index += 1
        }
    }

    /// A line end (LF or CR LF) or the end of the file; anything else is an error.
    private mutating func endLine(after what: String) throws(FlatTOMLFailure) {
        switch peek() {
        case nil: return
        case 0x0A?: index += 1
        case 0x0D? where peek(1) == 0x0A: index += 2
        case 0x0D?: throw fail("a carriage return not followed by a line feed")
        default: throw fail("expected the end of the line after \(what), found \(describeHere())")
        }
    }

    /// Spaces, comments and line ends, as between entries and between list elements.
    private mutating func skipBlankLinesAndComments() throws(FlatTOMLFailure) {
        while true {
            skipSpaces()
            try skipComment()
            guard let byte = peek(), byte == 0x0A || byte == 0x0D else { return }
            try endLine(after: "a comment")
        }
    }

    // MARK: Keys

    private mutating func parseKey() throws(FlatTOMLFailure) -> String {
        switch peek() {
        case ascii("\"")?: return try parseBasicString()
        case ascii("'")?: return try parseLiteralString()
        default:
            let start = index
            while let byte = peek(), isBareKeyByte(byte) { index += 1 }
            guard index > start else {
                throw fail("expected a key (letters, digits, '-' and '_'), found \(describeHere())")
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
    }

    private func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case ascii("A")...ascii("Z"), ascii("a")...ascii("z"), ascii("0")...ascii("9"), ascii("-"), ascii("_"): true
        default: false
        }
    }

    // MARK: Values

    private mutating func parseValue(of key: String) throws(FlatTOMLFailure) -> ConfigFile.Value {
        switch peek() {
        case ascii("[")?:
            return .strings(try parseList(of: key))
        case ascii("{")?:
            throw fail("inline tables are not supported: keys are the long options of prunerd serve, at the top level")
        case nil, 0x0A?, 0x0D?, ascii("#")?:
            throw fail("expected a value after '=' for '\(key)', found \(describeHere())")
        default:
            return try parseScalar(of: key)
        }
    }

    /// A string, number or boolean.
    private mutating func parseScalar(of key: String) throws(FlatTOMLFailure) -> ConfigFile.Value {
        switch peek() {
        case ascii("\"")?: return .string(try parseBasicString())
        case ascii("'")?: return .string(try parseLiteralString())
        default: break
        }
        let start = index
        if let failure = dateOrTime(of: key) { throw failure }
        while let byte = peek(), isBareKeyByte(byte) || byte == ascii("+") || byte == ascii(".") { index += 1 }
        let token = String(decoding: bytes[start..<index], as: UTF8.self)
        guard !token.isEmpty else {
            throw fail("expected a value for '\(key)' (a string in quotes, a number, true, false or a list), found \(describeHere())")
        }
        switch token {
        case "true": return .bool(true)
        case "false": return .bool(false)
        default: break
        }
        do {
            return try Self.number(token)
        } catch {
            throw FlatTOMLFailure(offset: start, reason: error.reason)
        }
    }

    /// A failure if a date or time starts here: prunerd has no such option, and
    /// they are told apart from numbers before the number grammar sees them.
    private func dateOrTime(of key: String) -> FlatTOMLFailure? {
        func isDigit(_ ahead: Int) -> Bool { peek(ahead).map { $0 >= ascii("0") && $0 <= ascii("9") } ?? false }
        let isDate = (0..<4).allSatisfy(isDigit) && peek(4) == ascii("-")
        let isTime = isDigit(0) && isDigit(1) && peek(2) == ascii(":")
        guard isDate || isTime else { return nil }
        let isFullDate = isDate && isDigit(5) && isDigit(6) && peek(7) == ascii("-") && isDigit(8) && isDigit(9)
        if isFullDate, peek(10) == ascii("T") || peek(10) == ascii("t"), !isDigit(11) {
            return FlatTOMLFailure(offset: index + 10, reason: "a date-time needs HH:MM after its 'T'; '\(key)' cannot be a date anyway")
        }
        return fail("'\(key)' has an unsupported type: a date or time (prunerd's options are strings, numbers, true/false and lists of strings)")
    }

    /// `[ "a", 'b', ]` over any number of lines, with comments; only strings.
    private mutating func parseList(of key: String) throws(FlatTOMLFailure) -> [String] {
        let open = index
        index += 1
        var strings: [String] = []
        while true {
            try skipBlankLinesAndComments()
            switch peek() {
            case nil:
                throw FlatTOMLFailure(offset: open, reason: "the list of '\(key)' is not closed with ']'")
            case ascii("]")?:
                index += 1
                return strings
            case ascii("{")?:
                throw fail("inline tables are not supported: keys are the long options of prunerd serve, at the top level")
            case ascii("[")?:
                throw fail("'\(key)' must be a list of strings, not of lists")
            default:
                let element = index
                guard case .string(let text) = try parseScalar(of: key) else {
                    throw FlatTOMLFailure(offset: element, reason: "'\(key)' must be a list of strings")
                }
                strings.append(text)
            }
            try skipBlankLinesAndComments()
            switch peek() {
            case ascii(",")?: index += 1
            case ascii("]")?: break
            case nil: throw FlatTOMLFailure(offset: open, reason: "the list of '\(key)' is not closed with ']'")
            default: throw fail("expected ',' or ']' in the list of '\(key)', found \(describeHere())")
            }
        }
    }

    // MARK: Strings

    /// `"…"` with TOML's escapes; one line.
    private mutating func parseBasicString() throws(FlatTOMLFailure) -> String {
        if peek(1) == ascii("\""), peek(2) == ascii("\"") {
            throw fail("multi-line strings (\"\"\") are not supported: write the value on one line")
        }
        let open = index
        index += 1
        var text: [UInt8] = []
        while true {
            guard let byte = peek() else { throw FlatTOMLFailure(offset: open, reason: "the string is not closed with '\"'") }
            switch byte {
            case ascii("\""):
                index += 1
                return String(decoding: text, as: UTF8.self)
            case ascii("\\"):
                text += try parseEscape()
            case 0x0A, 0x0D:
                throw FlatTOMLFailure(offset: open, reason: "the string is not closed with '\"' before the end of the line")
            default:
                if isForbiddenControl(byte) {
                    throw fail("a control character (byte 0x\(String(byte, radix: 16))) in a string; write it as an escape such as \\u0001")
                }
                text.append(byte)
                index += 1
            }
        }
    }

    /// One escape after a backslash, as UTF-8 bytes.
    private mutating func parseEscape() throws(FlatTOMLFailure) -> [UInt8] {
        let start = index
        index += 1
        guard let letter = peek() else { throw FlatTOMLFailure(offset: start, reason: "the string ends in a lone '\\'") }
        index += 1
        switch letter {
        case ascii("b"): return [0x08]
        case ascii("t"): return [0x09]
        case ascii("n"): return [0x0A]
        case ascii("f"): return [0x0C]
        case ascii("r"): return [0x0D]
        case ascii("\""): return [0x22]
        case ascii("\\"): return [0x5C]
        case ascii("u"), ascii("U"):
            let count = letter == ascii("u") ? 4 : 8
            guard index + count <= bytes.count,
                  let code = UInt32(String(decoding: bytes[index..<(index + count)], as: UTF8.self), radix: 16),
                  bytes[index..<(index + count)].allSatisfy({ isHexDigit($0) }) else {
                throw FlatTOMLFailure(offset: start, reason: "'\\\(Character(Unicode.Scalar(letter)))' needs \(count) hexadecimal digits")
            }
            guard let scalar = Unicode.Scalar(code) else {
                throw FlatTOMLFailure(offset: start, reason: "'\\\(Character(Unicode.Scalar(letter)))\(String(code, radix: 16, uppercase: true))' is not a Unicode scalar value")
            }
            index += count
            return Array(String(Character(scalar)).utf8)
        default:
            let shown = (0x21...0x7E).contains(letter) ? "'\\\(Character(Unicode.Scalar(letter)))'" : "a backslash before byte 0x\(String(letter, radix: 16))"
            throw FlatTOMLFailure(offset: start, reason: "\(shown) is not a TOML escape (\\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX; a Windows path goes in 'single quotes')")
        }
    }

    /// `'…'`: no escapes; one line.
    private mutating func parseLiteralString() throws(FlatTOMLFailure) -> String {
        if peek(1) == ascii("'"), peek(2) == ascii("'") {
            throw fail("multi-line strings (''') are not supported: write the value on one line")
        }
        let open = index
        index += 1
        let start = index
        while true {
            guard let byte = peek() else { throw FlatTOMLFailure(offset: open, reason: "the string is not closed with \"'\"") }
            switch byte {
            case ascii("'"):
                defer { index += 1 }
                return String(decoding: bytes[start..<index], as: UTF8.self)
            case 0x0A, 0x0D:
                throw FlatTOMLFailure(offset: open, reason: "the string is not closed with \"'\" before the end of the line")
            default:
                if isForbiddenControl(byte) {
                    throw fail("a control character (byte 0x\(String(byte, radix: 16))) in a string")
                }
                index += 1
            }
        }
    }

    // MARK: Numbers

    /// A number token's reason for being refused (its offset is the token's).
    struct NumberError: Error {
        var reason: String
    }

    /// An integer or float in TOML's grammar: `[+-]` digits with single
    /// underscores between them, no leading zeros, `0x`/`0o`/`0b` without a
    /// sign, a float with a fraction and/or an exponent, `inf`, `nan`.
    static func number(_ token: String) throws(NumberError) -> ConfigFile.Value {
        var body = Substring(token)
        var sign = ""
        if let first = body.first, first == "+" || first == "-" {
            sign = first == "-" ? "-" : ""
            body = body.dropFirst()
        }
        if body == "inf" { return .number(sign == "-" ? -.infinity : .infinity) }
        if body == "nan" { return .number(.nan) }
        for (prefix, radix, name) in [("0x", 16, "hexadecimal"), ("0o", 8, "octal"), ("0b", 2, "binary")] where body.hasPrefix(prefix) {
            guard token.first != "+" && token.first != "-" else {
                throw NumberError(reason: "'\(token)': a \(name) integer has no sign")
            }
            let digits = try digitRun(body.dropFirst(2), radix: radix, token: token)
            guard let value = Int(digits, radix: radix) else {
                throw NumberError(reason: "'\(token)' does not fit in a 64-bit signed integer")
            }
            return .integer(value)
        }
        // Decimal: integer part, optional fraction, optional exponent.
        let exponentIndex = body.firstIndex { $0 == "e" || $0 == "E" }
        let mantissa = exponentIndex.map { body[..<$0] } ?? body
        let dotIndex = mantissa.firstIndex(of: ".")
        let integerPart = dotIndex.map { mantissa[..<$0] } ?? mantissa
        let integerDigits = try digitRun(integerPart, radix: 10, token: token)
        if integerDigits.count > 1, integerDigits.first == "0" {
            throw NumberError(reason: "'\(token)': leading zeros are not allowed")
        }
        var cleaned = sign + integerDigits
        if let dotIndex {
            cleaned += "." + (try digitRun(mantissa[mantissa.index(after: dotIndex)...], radix: 10, token: token))
        }
        if let exponentIndex {
            var exponent = body[body.index(after: exponentIndex)...]
            var exponentSign = ""
            if let first = exponent.first, first == "+" || first == "-" {
                exponentSign = String(first)
                exponent = exponent.dropFirst()
            }
            cleaned += "e" + exponentSign + (try digitRun(exponent, radix: 10, token: token))
        }
        if dotIndex == nil && exponentIndex == nil {
            guard let value = Int(cleaned) else {
                throw NumberError(reason: "'\(token)' does not fit in a 64-bit signed integer")
            }
            return .integer(value)
        }
        guard let value = Double(cleaned), value.isFinite else {
            throw NumberError(reason: "'\(token)' is out of the range of a 64-bit float")
        }
        return .number(value)
    }

    /// The digits of `text` without their underscores; an error unless it is
    /// one or more digits of `radix` with each underscore between two digits.
    private static func digitRun(_ text: Substring, radix: Int, token: String) throws(NumberError) -> String {
        var digits = ""
        var previousWasDigit = false
        for character in text {
            if character == "_" {
                guard previousWasDigit else { throw notANumber(token) }
                previousWasDigit = false
            } else if let value = character.hexDigitValue, value < radix, character.isASCII {
                digits.append(character)
                previousWasDigit = true
            } else {
                throw notANumber(token)
            }
        }
        guard previousWasDigit else { throw notANumber(token) }
        return digits
    }

    private static func notANumber(_ token: String) -> NumberError {
        if let first = token.unicodeScalars.first, first.properties.isAlphabetic {
            return NumberError(reason: "'\(token)' is not a value: a string needs quotes (\"\(token)\"), a boolean is true or false")
        }
        return NumberError(reason: "'\(token)' is not a TOML number")
    }
}

private func ascii(_ character: Unicode.Scalar) -> UInt8 { UInt8(character.value) }

private func isHexDigit(_ byte: UInt8) -> Bool {
    switch byte {
    case ascii("0")...ascii("9"), ascii("a")...ascii("f"), ascii("A")...ascii("F"): true
    default: false
    }
}

/// Control characters TOML forbids in strings and comments (a tab is allowed).
private func isForbiddenControl(_ byte: UInt8) -> Bool {
    (byte < 0x20 && byte != 0x09) || byte == 0x7F
}
