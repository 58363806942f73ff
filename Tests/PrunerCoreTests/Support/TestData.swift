// Shared test fixtures: synthetic mixtures of concepts and the real embeddings.
import Foundation
@testable import PrunerCore

enum TestData {
    /// Unit vectors around `concepts` random unit centres with per-concept spread and very different sizes.
    static func mixture(rows: Int, dimension d: Int, concepts: Int, seed: UInt64) -> (vectors: [Float], labels: [Int]) {
        var rng = Xoshiro256StarStar(seed: seed)
        var centres = [Float](repeating: 0, count: concepts * d)
        for j in 0..<concepts {
            var v = (0..<d).map { _ in Float(gaussian(&rng)) }
            normalise(&v)
            for t in 0..<d { centres[j * d + t] = v[t] }
        }
        // Sizes: geometric-ish weights; spreads vary from tight to loose.
        let weights = (0..<concepts).map { j in pow(0.85, Double(j)) + 0.02 }
        let spreads = (0..<concepts).map { j in 0.15 + 0.5 * Double((j * 7) % concepts) / Double(concepts) }
        let total = weights.reduce(0, +)
        var vectors = [Float](); vectors.reserveCapacity(rows * d)
        var labels = [Int]()
        for _ in 0..<rows {
            var u = rng.nextUnit() * total
            var j = 0
            while j < concepts - 1 && u >= weights[j] { u -= weights[j]; j += 1 }
            var v = (0..<d).map { t in centres[j * d + t] + Float(spreads[j] * gaussian(&rng) / Double(d).squareRoot() * 2) }
            normalise(&v)
            vectors.append(contentsOf: v)
            labels.append(j)
        }
        return (vectors, labels)
    }

    static func gaussian(_ rng: inout Xoshiro256StarStar) -> Double {
        let u1 = max(rng.nextUnit(), 1e-300), u2 = rng.nextUnit()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }

    static func normalise(_ v: inout [Float]) {
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for i in v.indices { v[i] /= n }
    }

    /// Shuffles rows with a seeded generator.
    static func shuffled(_ vectors: [Float], dimension d: Int, seed: UInt64) -> [Float] {
        let n = vectors.count / d
        var order = Array(0..<n)
        var rng = Xoshiro256StarStar(seed: seed)
        for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, rng.nextInt(below: i + 1)) }
        var out = [Float](); out.reserveCapacity(vectors.count)
        for i in order { out.append(contentsOf: vectors[(i * d)..<(i * d + d)]) }
        return out
    }

    /// `../shared/data` beside the clone (CI) or /work/shared/data, when present.
    static func sharedDataDirectory() -> String? {
        var up = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { up = up.deletingLastPathComponent() }   // Support → PrunerCoreTests → Tests → <clone>
        let candidates = [up.deletingLastPathComponent().appendingPathComponent("shared/data").path, "/work/shared/data"]
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/docstrings-minilm384.f16.npy") }
    }

    /// The shared real embeddings (`docstrings`: 40,000 × 384; `pypi`: 80,000 × 384), or nil when the folder is absent.
    static func realEmbeddings(_ set: String = "docstrings") -> (vectors: [Float], dimension: Int)? {
        guard let directory = sharedDataDirectory(),
              let data = FileManager.default.contents(atPath: directory + "/\(set)-minilm384.f16.npy"),
              var (vectors, d) = parseNpyFloat16(data) else { return nil }
        // Renormalised as prunerd's loader does (float16 rows are ~1e-4 off unit length), so that
        // the offline reference sees the rows the streaming engine sees.
        VectorMath.normaliseRows(&vectors, d)
        return (vectors, d)
    }

    /// One label per row of the real embeddings (`docstrings-labels`: the top-level package;
    /// `pypi-labels`: the name's first word; `pypi-months`: the first release month).
    static func realLabels(_ file: String = "docstrings-labels") -> [Substring]? {
        guard let directory = sharedDataDirectory(),
              let text = try? String(contentsOfFile: directory + "/\(file).txt", encoding: .utf8) else { return nil }
        return text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    /// Rows reordered by label (stable), like a crawler emitting one site at a time.
    static func sortedByLabel(_ vectors: [Float], dimension d: Int, labels: [Substring]) -> [Float] {
        let n = vectors.count / d
        let order = (0..<n).sorted { (labels[$0], $0) < (labels[$1], $1) }
        var out = [Float](); out.reserveCapacity(vectors.count)
        for i in order { out.append(contentsOf: vectors[(i * d)..<(i * d + d)]) }
        return out
    }

    /// Parses a v1 .npy of little-endian float16 in C order into Float32.
    static func parseNpyFloat16(_ data: Data) -> (vectors: [Float], dimension: Int)? {
        let bytes = [UInt8](data)
        guard bytes.count > 10, bytes[0] == 0x93, bytes[1...5].elementsEqual("NUMPY".utf8) else { return nil }
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        guard header.contains("'<f2'"), let open = header.firstIndex(of: "("), let close = header.firstIndex(of: ")") else { return nil }
        let dims = header[header.index(after: open)..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard dims.count == 2 else { return nil }
        let start = 10 + headerLength
        let n = dims[0] * dims[1]
        var out = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let bits = UInt16(bytes[start + 2 * i]) | UInt16(bytes[start + 2 * i + 1]) << 8
            out[i] = Float(Float16(bitPattern: bits))
        }
        return (out, dims[1])
    }
}
