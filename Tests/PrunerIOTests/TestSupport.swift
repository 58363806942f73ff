// Shared helpers for PrunerIO tests: running the real producers (lz4 CLI,
// python3), feeding decoders in arbitrary chunk sizes, capturing events.

import Foundation
import PrunerCore
import PrunerIO
import Testing

/// A record event copied out of the sink so tests can compare whole streams.
enum CapturedEvent: Equatable, CustomStringConvertible {
    case record(id: String, vectorBits: [UInt32], scoreBits: UInt32?)
    case rejected(id: String, reason: RejectReason)

    init(_ event: RecordEvent) {
        switch event {
        case .record(let id, let vector, let score):
            self = .record(id: id, vectorBits: vector.map(\.bitPattern), scoreBits: score?.bitPattern)
        case .rejected(let id, let reason):
            self = .rejected(id: id, reason: reason)
        }
    }

    static func record(_ id: String, _ vector: [Float], score: Float? = nil) -> CapturedEvent {
        .record(id: id, vectorBits: vector.map(\.bitPattern), scoreBits: score?.bitPattern)
    }

    var vector: [Float]? {
        if case .record(_, let bits, _) = self { return bits.map(Float.init(bitPattern:)) }
        return nil
    }

    var description: String {
        switch self {
        case .record(let id, let bits, let score):
            let s = score.map { String(describing: Float(bitPattern: $0)) } ?? "nil"
            return "record(\(id), \(bits.map(Float.init(bitPattern:))), score: \(s))"
        case .rejected(let id, let reason):
            return "rejected(\(id), \(reason))"
        }
    }
}

/// Splits `bytes` into chunks: sizes drawn from `sizes` cyclically.
func chunks(_ bytes: [UInt8], sizes: [Int]) -> [ArraySlice<UInt8>] {
    var result: [ArraySlice<UInt8>] = []
    var start = 0
    var i = 0
    while start < bytes.count {
        let size = max(1, sizes[i % sizes.count])
        result.append(bytes[start..<min(bytes.count, start + size)])
        start += size
        i += 1
    }
    return result
}

/// Chunk-size patterns every invariance test uses: 1 byte, small odd, random, large random, whole.
func chunkPatterns(seed: UInt64, count: Int) -> [[Int]] {
    var rng = SplitMix64(seed: seed)
    let random = (0..<64).map { _ in Int(rng.next() % 97) + 1 }
    let randomLarge = (0..<64).map { _ in Int(rng.next() % 70_000) + 1 }
    return [[1], [3, 5, 7], random, randomLarge, [max(count, 1)]]
}

/// Decodes `bytes` fed in chunks of the given sizes; returns events and the error, if any.
func decodeRecords(
    _ bytes: [UInt8], sizes: [Int], maxRecordSize: Int = 1 << 20
) -> (events: [CapturedEvent], error: StreamError?, encoding: RecordEncoding?) {
    var decoder = RecordDecoder(maxRecordSize: maxRecordSize)
    var events: [CapturedEvent] = []
    do {
        for chunk in chunks(bytes, sizes: sizes) {
            try chunk.withUnsafeBytes { raw in
                Result { () throws(StreamError) in try decoder.feed(raw) { events.append(CapturedEvent($0)) } }
            }.get()
        }
        try decoder.finish { events.append(CapturedEvent($0)) }
    } catch {
        return (events, error, decoder.encoding)
    }
    #expect(decoder.consumedBytes == UInt64(bytes.count))
    return (events, nil, decoder.encoding)
}

/// Decompresses `bytes` fed in chunks; returns the output and the error, if any.
func decompress(
    _ bytes: [UInt8], sizes: [Int], onChunk: (Int) -> Void = { _ in }
) -> (output: [UInt8], error: StreamError?) {
    let decoder = LZ4StreamDecoder()
    var output: [UInt8] = []
    do {
        for chunk in chunks(bytes, sizes: sizes) {
            try chunk.withUnsafeBytes { raw in
                Result { () throws(StreamError) in
                    try decoder.feed(raw) { (out) throws(StreamError) in
                        onChunk(out.count)
                        output.append(contentsOf: out)
                    }
                }
            }.get()
        }
        try decoder.finish()
    } catch {
        return (output, error)
    }
    #expect(decoder.consumedBytes == UInt64(bytes.count))
    return (output, nil)
}

/// Deterministic PRNG so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A fresh temporary directory; the caller removes it.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("prunerio-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Finds an executable on PATH.
func findTool(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

struct ToolFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs a tool to completion; throws with its stderr if it fails. Returns stdout.
@discardableResult
func run(_ tool: String, _ arguments: [String]) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ToolFailure(description: "\(tool) \(arguments) failed: \(String(decoding: errors, as: UTF8.self))")
    }
    return data
}

func readBytes(_ url: URL) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: url))
}

/// Random floats in [-1, 1).
func randomVector(_ dim: Int, _ rng: inout SplitMix64) -> [Float] {
    (0..<dim).map { _ in Float(Double(rng.next() >> 11) / Double(UInt64(1) << 53) * 2 - 1) }
}
