// Exact SemDeDup over a whole stream (all pairs within a concept) and the
// measures that compare the streaming check with it: evaluation, not decisions.
import PrunerCore

/// Exact SemDeDup and the measures that compare the streaming check with it.
public enum DedupEvaluation {
    /// Exact duplicates in stream order: row i is a duplicate when an earlier row
    /// of the same concept has cosine > 1 − ε with it (all pairs, O(Σ n_j²·d)).
    /// Rows with a negative concept are ignored.
    public static func exactDuplicates(vectors: [Float], dimension d: Int, concepts: [Int32], epsilon: Double) -> [Bool] {
        let n = concepts.count
        let bound = Float(1 - epsilon)
        var byConcept = [Int32: [Int]]()
        for i in 0..<n where concepts[i] >= 0 { byConcept[concepts[i], default: []].append(i) }
        var dup = [Bool](repeating: false, count: n)
        vectors.withUnsafeBufferPointer { v in
            for (_, rows) in byConcept {
                for (a, i) in rows.enumerated() {
                    for b in 0..<a where SemDeDup.cosine(v.baseAddress! + i * d, v.baseAddress! + rows[b] * d, dimension: d) > bound {
                        dup[i] = true; break
                    }
                }
            }
        }
        return dup
    }

    /// Recall |S ∩ E| / |E| and precision |S ∩ E| / |S| of streaming flags S against exact flags E.
    public static func recallPrecision(streaming s: [Bool], exact e: [Bool]) -> (recall: Double, precision: Double) {
        var both = 0, ns = 0, ne = 0
        for i in s.indices { if s[i] { ns += 1 }; if e[i] { ne += 1; if s[i] { both += 1 } } }
        return (ne > 0 ? Double(both) / Double(ne) : 1, ns > 0 ? Double(both) / Double(ns) : 1)
    }
}
