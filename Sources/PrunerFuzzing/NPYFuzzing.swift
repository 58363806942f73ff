// fuzz-npy: the `.npy` reader behind `--centroids`.

import PrunerIO

/// Decodes the input; a decoded array must survive a float32 round trip bit for bit.
enum NPYFuzzing {
    static func run(_ input: UnsafeRawBufferPointer) throws(FuzzFailure) {
        guard let array = try? NPYArray.decode(Array(input)) else { return }
        guard array.values.count == array.rows * array.columns else {
            throw FuzzFailure("\(array.values.count) values for shape (\(array.rows), \(array.columns))")
        }
        let encoded = NPYArray.encodeFloat32(rows: array.rows, columns: array.columns, values: array.values)
        guard let again = try? NPYArray.decode(encoded) else {
            throw FuzzFailure("re-encoded (\(array.rows), \(array.columns)) array does not decode")
        }
        guard again.rows == array.rows, again.columns == array.columns,
              again.values.map(\.bitPattern) == array.values.map(\.bitPattern) else {
            throw FuzzFailure("float32 round trip changed the array")
        }
    }
}
