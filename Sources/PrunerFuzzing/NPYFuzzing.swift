// fuzz-npy: the `.npy` readers (`--centroids`, and `.npy` inputs streamed as
// records) and the `.npz` reader (zip directory, stored or deflated members).

import PrunerIO

/// Decodes the input as a centroids file and as a streamed matrix input; an
/// input starting `PK` is read as an `.npz`, as `prunerd serve x.npz` reads it.
enum NPYFuzzing {
    static func run(_ input: UnsafeRawBufferPointer) throws(FuzzFailure) {
        let bytes = Array(input)
        if bytes.starts(with: [0x50, 0x4B]) {
            try npz(bytes)
            return
        }
        try centroids(bytes)
        stream(input)
    }

    /// `NPYArray.decode`; a decoded array must survive a float32 round trip bit for bit.
    static func centroids(_ bytes: [UInt8]) throws(FuzzFailure) {
        guard let array = try? NPYArray.decode(bytes) else { return }
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

    /// The bytes as a record stream (a `.npy` input's rows become records).
    static func stream(_ bytes: UnsafeRawBufferPointer) {
        var decoder = RecordDecoder(maxRecordSize: 1 << 16)
        var records = 0
        do throws(StreamError) {
            try Chunking(control: 5).forEachPiece(of: bytes) { (piece) throws(StreamError) in
                try decoder.feed(piece) { _ in records += 1 }
            }
            try decoder.finish { _ in records += 1 }
        } catch {}
    }

    /// The `.npz` path of MatrixStreamResolver: end record → central directory →
    /// each `.npy` member's local header → its data, inflated if deflated → records.
    static func npz(_ file: [UInt8]) throws(FuzzFailure) {
        let size = UInt64(file.count)
        let tail = Array(file.suffix(ZipDirectory.tailLength))
        guard let directory = try? ZipDirectory.locate(tail: tail, fileSize: size) else { return }
        guard directory.offset <= size, directory.size <= size - directory.offset else {
            throw FuzzFailure("central directory \(directory.offset)+\(directory.size) outside a \(size)-byte file")
        }
        let start = Int(directory.offset)
        let listing = Array(file[start..<start + Int(directory.size)])
        guard let members = try? ZipDirectory.members(directory: listing, entries: directory.entries) else { return }
        for member in members where member.name.hasSuffix(".npy") {
            guard member.localHeaderOffset < size else { continue }
            let local = Array(file[Int(member.localHeaderOffset)...].prefix(30))
            guard let dataStart = try? ZipDirectory.dataOffset(of: member, localHeader: local),
                  dataStart <= size, member.compressedSize <= size - dataStart else { continue }
            let data = Array(file[Int(dataStart)..<Int(dataStart + member.compressedSize)])
            var decoder = RecordDecoder(maxRecordSize: 1 << 16)
            let inflater: Inflater? = member.method == .deflated ? Inflater() : nil
            var produced = 0
            let body: (UnsafeRawBufferPointer) throws(StreamError) -> Void = { (chunk) throws(StreamError) in
                produced += chunk.count
                try decoder.feed(chunk) { _ in }
            }
            do throws(StreamError) {
                try data.withUnsafeBytes { raw in
                    Result { () throws(StreamError) in
                        if let inflater { try inflater.feed(raw, output: body) } else { try body(raw) }
                    }
                }.get()
                try inflater?.finish()
                try decoder.finish { _ in }
            } catch {}
            _ = produced
        }
    }
}
