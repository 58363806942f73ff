// A minimal JSON document builder for the status document: objects, arrays,
// numbers, strings. Hand-written so the daemon needs no Foundation.
import PrunerIO

/// Builds one JSON document left to right.
public struct JSONWriter {
    public private(set) var text = ""
    private var needsComma = [false]

    public init() {}

    public mutating func open() { value("{"); needsComma.append(false) }
    public mutating func close() { text += "}"; needsComma.removeLast() }
    public mutating func openArray() { value("["); needsComma.append(false) }
    public mutating func closeArray() { text += "]"; needsComma.removeLast() }

    /// Starts `"key":` inside an object; the next value or open completes it.
    public mutating func key(_ name: String) {
        separator()
        text += quoted(name) + ":"
        needsComma[needsComma.count - 1] = false
        pendingKey = true
    }

    public mutating func field(_ name: String, _ number: Int) { key(name); value(String(number)) }
    public mutating func field(_ name: String, _ number: Double) { key(name); value(formatNumber(number)) }
    public mutating func field(_ name: String, _ number: Double?) { key(name); value(number.map(formatNumber) ?? "null") }
    public mutating func field(_ name: String, _ string: String) { key(name); value(quoted(string)) }
    public mutating func field(_ name: String, _ string: String?) { key(name); value(string.map(quoted) ?? "null") }
    public mutating func field(_ name: String, _ flag: Bool) { key(name); value(flag ? "true" : "false") }
    public mutating func field(_ name: String, _ counts: [String: Int]) {
        key(name)
        open()
        for (label, count) in counts.sorted(by: { $0.key < $1.key }) { field(label, count) }
        close()
    }

    /// An array element: a number or a string.
    public mutating func element(_ number: Int) { value(String(number)) }
    public mutating func element(_ number: Double) { value(formatNumber(number)) }
    public mutating func element(_ string: String) { value(quoted(string)) }

    private var pendingKey = false

    private mutating func separator() {
        if needsComma[needsComma.count - 1] { text += "," }
    }

    private mutating func value(_ literal: String) {
        if !pendingKey { separator() }
        pendingKey = false
        text += literal
        needsComma[needsComma.count - 1] = true
    }

    private func quoted(_ string: String) -> String {
        "\"" + String(decoding: DecisionLineFormatter.jsonEscaped(string), as: UTF8.self) + "\""
    }

    private func formatNumber(_ number: Double) -> String {
        guard number.isFinite else { return "null" }
        return formatFixed(number, 6)
    }
}

/// `value` with `digits` decimals, without Foundation.
func formatFixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "null" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9e15 else { return String(value) }
    let whole = UInt64(scaled)
    let integer = whole / UInt64(scale)
    let fraction = String(whole % UInt64(scale))
    let sign = value < 0 && whole > 0 ? "-" : ""
    return digits == 0 ? "\(sign)\(integer)" : "\(sign)\(integer)." + String(repeating: "0", count: digits - fraction.count) + fraction
}

/// Prometheus text exposition format 0.0.4.
struct PrometheusExposition {
    private(set) var text = ""

    mutating func counter(_ name: String, _ help: String, _ samples: [([String: String], Double)]) {
        header(name, help, "counter")
        for (labels, value) in samples { sample(name, labels, value) }
    }

    mutating func gauge(_ name: String, _ help: String, _ value: Double) {
        header(name, help, "gauge")
        sample(name, [:], value)
    }

    mutating func gauge(_ name: String, _ help: String, _ samples: [([String: String], Double)]) {
        header(name, help, "gauge")
        for (labels, value) in samples { sample(name, labels, value) }
    }

    private mutating func header(_ name: String, _ help: String, _ type: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    private mutating func sample(_ name: String, _ labels: [String: String], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",") + "}"
        }
        text += " " + (value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : formatFixed(value, 6)) + "\n"
    }
}
