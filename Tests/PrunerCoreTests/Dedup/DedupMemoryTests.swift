import Foundation
import Testing
@testable import PrunerCore
import PrunerEvaluation

/// The near-duplicate memory's sketch prefilter, at the real embedding dimension.
@Suite struct DedupMemoryTests {
    static let d = 384

    static func unit(_ v: [Float]) -> [Float] { var v = v; TestData.normalise(&v); return v }
    static func gaussian(_ rng: inout Xoshiro256StarStar, _ d: Int) -> [Float] { (0..<d).map { _ in Float(TestData.gaussian(&rng)) } }

    /// A unit vector at angle θ from unit `x`, in a random direction orthogonal to `x` and `c`.
    static func rotated(_ x: [Float], by theta: Double, avoiding c: [Float], _ rng: inout Xoshiro256StarStar) -> [Float] {
        var u = gaussian(&rng, x.count)
        for axis in [c, x] {
            let p = zip(u, axis).map { $0 * $1 }.reduce(0, +)
            u = zip(u, axis).map { $0 - p * $1 }
        }
        u = unit(u)
        return unit(zip(x, u).map { Float(cos(theta)) * $0 + Float(sin(theta)) * $1 })
    }

    /// Members of one concept: centre·3 + isotropic noise of norm ~3·spread, like the benchmark's synthetic data.
    static func member(_ c: [Float], spread: Double, _ rng: inout Xoshiro256StarStar) -> [Float] {
        let noise = gaussian(&rng, c.count)
        return unit(zip(c, noise).map { 3 * $0 + Float(3 * spread / Double(c.count).squareRoot()) * $1 })
    }

    @Test func sketchDistanceEstimatesTheResidualAngle() {
        var rng = Xoshiro256StarStar(seed: 5)
        let c = Self.unit(Self.gaussian(&rng, Self.d))
        var memory = DedupMemory(sketch: SignSketch(dimension: Self.d, seed: 1), capacity: 4)
        memory.setCenter(c[...])
        for degrees in [2.0, 10.0, 30.0, 60.0] {
            var bits = 0, angles = 0.0
            let pairs = 200
            for _ in 0..<pairs {
                let x = Self.member(c, spread: 0.5, &rng)
                let y = Self.rotated(x, by: degrees * .pi / 180, avoiding: c, &rng)
                let ex = x.withUnsafeBufferPointer { memory.encode($0.baseAddress!) }
                let (a, norm) = (ex.code, ex.residualNorm)
                let b = y.withUnsafeBufferPointer { memory.encode($0.baseAddress!).code }
                bits += (0..<4).map { (a[$0] ^ b[$0]).nonzeroBitCount }.reduce(0, +)
                // y's residual is cos θ·(x's residual) + sin θ·u with u ⟂ both: tan φ = tan θ / |residual|.
                angles += atan(tan(degrees * .pi / 180) / Double(norm))
            }
            let measured = Double(bits) / Double(pairs * SignSketch.bits), expected = angles / Double(pairs) / .pi
            print("angle \(degrees)°: Hamming fraction \(measured), residual angle / π \(expected)")
            #expect(abs(measured - expected) <= 0.01 + 0.05 * expected)
        }
    }

    /// (The limits' 10⁻⁵ holds at the worst residual angle, arcsin(δ/a); these pairs sit at
    /// the threshold cosine with the difference off the centre's axis, a typical direction.)
    @Test func hammingLimitsKeepNearCopiesAtTheThreshold() {
        var rng = Xoshiro256StarStar(seed: 6)
        let c = Self.unit(Self.gaussian(&rng, Self.d))
        var memory = DedupMemory(sketch: SignSketch(dimension: Self.d, seed: 2), capacity: 4)
        memory.setCenter(c[...])
        let epsilon = 0.05
        var misses = 0
        for i in 0..<2000 {
            // Tight and loose concepts; y at cos exactly 1 − ε from x, moving off the centre's axis.
            let x = Self.member(c, spread: [0.5, 1.0, 1.5][i % 3], &rng)
            let y = Self.rotated(x, by: acos(1 - epsilon), avoiding: c, &rng)
            let ex = x.withUnsafeBufferPointer { memory.encode($0.baseAddress!) }
                let (a, norm) = (ex.code, ex.residualNorm)
            let b = y.withUnsafeBufferPointer { memory.encode($0.baseAddress!).code }
            let head = (0..<2).map { (a[$0] ^ b[$0]).nonzeroBitCount }.reduce(0, +)
            let full = head + (2..<4).map { (a[$0] ^ b[$0]).nonzeroBitCount }.reduce(0, +)
            if head > SignSketch.hammingLimit(bits: 128, residualNorm: norm, epsilon: epsilon)
                || full > SignSketch.hammingLimit(bits: 256, residualNorm: norm, epsilon: epsilon) { misses += 1 }
        }
        #expect(misses == 0)
    }

    /// Near-copies at several noise levels (cos 0.999 down to just above 1 − ε) in a tight
    /// concept of d = 384: the memory's verdicts against all pairs.
    @Test(arguments: [0.5, 1.2])
    func findsNearCopiesAtSeveralNoiseLevels(spread: Double) {
        var rng = Xoshiro256StarStar(seed: 7)
        let d = Self.d
        let c = Self.unit(Self.gaussian(&rng, d))
        var rows = [[Float]](), originals = [Int]()
        for i in 0..<3000 {
            if i >= 100 && i % 4 == 0 {
                // Copies of originals only: a copy of a copy the memory did not keep is the
                // remembering policy's loss (see DedupDriftTests), not the prefilter's.
                let source = rows[originals[rng.nextInt(below: originals.count)]]
                let cosine = [0.999, 0.99, 0.97, 0.955][(i / 4) % 4]
                rows.append(Self.rotated(source, by: acos(cosine), avoiding: c, &rng))
            } else {
                originals.append(rows.count)
                rows.append(Self.member(c, spread: spread, &rng))
            }
        }
        let flat = rows.flatMap { $0 }
        let exact = DedupEvaluation.exactDuplicates(vectors: flat, dimension: d, concepts: [Int32](repeating: 0, count: rows.count), epsilon: 0.05)
        var memory = DedupMemory(sketch: SignSketch(dimension: d, seed: 3), capacity: 4096)
        let found = rows.map { r in r.withUnsafeBufferPointer { memory.check($0, centroid: c[...], epsilon: 0.05) } }
        let (recall, precision) = DedupEvaluation.recallPrecision(streaming: found, exact: exact)
        print("spread \(spread): exact \(exact.filter { $0 }.count), recall \(recall), precision \(precision)")
        #expect(exact.filter { $0 }.count >= 700)
        #expect(recall >= 0.99)
        #expect(precision >= 0.99)
    }

    @Test func memoryIsARingOfTheMostRecentMembers() {
        var rng = Xoshiro256StarStar(seed: 8)
        let d = Self.d
        let c = Self.unit(Self.gaussian(&rng, d))
        let rows = (0..<100).map { _ in Self.member(c, spread: 1.0, &rng) }
        var memory = DedupMemory(sketch: SignSketch(dimension: d, seed: 4), capacity: 40)
        for r in rows { #expect(!r.withUnsafeBufferPointer { memory.check($0, centroid: c[...], epsilon: 0.05) }) }
        #expect(memory.count == 40)
        #expect(memory.vectors.count == 40 * d)
        // The last 40 are remembered, the first 60 forgotten.
        #expect(rows[99].withUnsafeBufferPointer { memory.check($0, centroid: c[...], epsilon: 0.05) })
        #expect(rows[60].withUnsafeBufferPointer { memory.check($0, centroid: c[...], epsilon: 0.05) })
        #expect(!rows[59].withUnsafeBufferPointer { memory.check($0, centroid: c[...], epsilon: 0.05) })
        memory.removeAll()
        #expect(memory.count == 0 && memory.center.isEmpty)
    }
}
