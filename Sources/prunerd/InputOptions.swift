// The inputs of serve, offline, fidelity and encode: record streams (PRN1 or
// JSON Lines, raw or LZ4), and embedding matrices (`.npy`, `.npz`,
// clip-retrieval folders) recognised by their magic bytes and read in order as
// the shards of one stream, with ids and scores from files beside them.
import ArgumentParser
import PrunerConfig
import PrunerDaemon

/// Input arguments and the options that say where a matrix's ids and scores are.
struct InputOptions: ParsableArguments, Sendable {
    @Argument(help: ArgumentHelp(
        "Inputs: PRN1 or JSON Lines files (raw or LZ4), FIFOs, - for stdin, and .npy/.npz matrices or clip-retrieval folders (img_emb/img_emb_N.npy), recognised by their first bytes.",
        discussion: "Matrices are read in the order given, as shards of one stream (one row, one record)."))
    var inputs: [String] = []

    @Option(name: .customLong(ServeOptions.ids.name),
            help: "Ids of the matrix rows: a text file, one id per line, in row order over all shards (default: each shard's ids file beside it, else the row number).")
    var ids: String?

    @Option(name: .customLong(ServeOptions.scores.name),
            help: "Scores of the matrix rows (for --min-score, and logged): a .npy vector, one value per row over all shards (default: none).")
    var scores: String?

    @Option(name: .customLong(ServeOptions.npzKey.name),
            help: "Which array of each .npz to read (default: its only 2-D float array; DataComp's hold several, e.g. l14_img).")
    var npzKey: String?

    /// The matrix annotations, as command-line values of serve's option table (`--check-config` shows them).
    func record(into values: inout CommandLineValues) {
        values.set(ServeOptions.ids, ids)
        values.set(ServeOptions.scores, scores)
        values.set(ServeOptions.npzKey, npzKey)
    }

    /// The inputs, split into record streams and one matrix stream.
    func resolve() throws -> (streams: [String], matrices: MatrixStream?) {
        let matrixPaths = inputs.filter(MatrixStreamResolver.isMatrix)
        let streams = inputs.filter { !MatrixStreamResolver.isMatrix($0) }
        guard !matrixPaths.isEmpty else {
            if ids != nil || scores != nil {
                throw ValidationError("--ids and --scores name the ids and scores of .npy/.npz rows, and no input is one "
                    + "(PRN1 and JSON Lines records carry their own)")
            }
            return (streams, nil)
        }
        return (streams, try MatrixStreamResolver.resolve(paths: matrixPaths, ids: ids, scores: scores, npzKey: npzKey))
    }
}
