// Exact SemDeDup within one concept: the offline recipe's near-duplicate removal.

/// SemDeDup as the reference runs it, and the cosine it compares by.
public enum SemDeDup {
    /// Offline SemDeDup within one concept, as in the reference: members sorted by
    /// distance to the centroid, farthest first (ties: lower row); a member is a
    /// duplicate when a member earlier in that order has cosine > 1 − ε with it.
    /// So each group of near-copies keeps its member farthest from the centroid.
    public static func withinConcept(vectors: [Float], dimension d: Int, members: [Int], distances: [Float], epsilon: Double) -> [Int] {
        let order = members.sorted { a, b in distances[a] != distances[b] ? distances[a] > distances[b] : a < b }
        let bound = Float(1 - epsilon)
        var dropped = [Int]()
        vectors.withUnsafeBufferPointer { v in
            for (a, i) in order.enumerated() {
                for b in 0..<a where VectorMath.dot(v.baseAddress! + i * d, v.baseAddress! + order[b] * d, d) > bound {
                    dropped.append(i); break
                }
            }
        }
        return dropped
    }

    /// The cosine of two unit `d`-vectors (their dot product, 16 lanes at a time), as every
    /// near-duplicate measure compares it.
    public static func cosine(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, dimension d: Int) -> Float {
        VectorMath.dot(a, b, d)
    }
}
