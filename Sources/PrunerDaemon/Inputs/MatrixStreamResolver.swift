// From command-line paths to a MatrixStream: recognises `.npy`, `.npz` and
// clip-retrieval folders by what they are (magic bytes, a directory), reads
// every shard's header, checks that the shards agree, and finds the ids.
import PrunerIO

/// Resolution of matrix inputs given on the command line.
public enum MatrixStreamResolver {
    /// Whether `path` is read as a matrix (a `.npy` or zip file by its magic, or a
    /// clip-retrieval folder) rather than as a PRN1/JSON Lines stream. Anything
    /// else (another directory, a missing path) is left to the input's opener, which names the problem.
    public static func isMatrix(_ path: String) -> Bool {
        guard path != "-" else { return false }
        switch FileSystem.kind(ofPath: path) {
        case .directory: return ClipRetrievalFolder.looksLikeOne(path)
        case .regularFile:
            let kind = (try? sniff(path)) ?? .empty
            return kind == .npy || kind == .zip
        case .missing, .other: return false
        }
    }

    /// What the first bytes of a file look like.
    public static func sniff(_ path: String) throws -> ContentKind {
        let fd = try FileSystem.openForReading(path)
        defer { FileSystem.close(fd) }
        let prefix = try FileSystem.readBytes(fd, count: 64, at: 0, path: path)
        return prefix.withUnsafeBytes { ContentKind(prefix: $0) }
    }

    /// The stream of `paths` (in order), with ids from `ids` or sidecars, and scores from `scores`.
    /// - Parameter npzKey: the member of each `.npz` to read (needed when it holds several matrices).
    public static func resolve(paths: [String], ids: String?, scores: String?, npzKey: String?) throws -> MatrixStream {
        var shards: [MatrixShard] = []
        var sidecars: [String?] = []
        var parquetWithoutIds: [String] = []
        for path in paths {
            if case .directory = FileSystem.kind(ofPath: path) {
                let folder = try ClipRetrievalFolder(path: path)
                for (index, shardPath) in folder.embeddings.enumerated() {
                    shards.append(try npyShard(path: shardPath))
                    sidecars.append(folder.idFiles[index])
                    if folder.idFiles[index] == nil, let parquet = folder.parquetFiles[index] { parquetWithoutIds.append(parquet) }
                }
            } else if try sniff(path) == .zip {
                shards.append(try npzShard(path: path, key: npzKey))
                sidecars.append(nil)
            } else {
                shards.append(try npyShard(path: path))
                sidecars.append(nil)
            }
        }
        guard let first = shards.first else { throw MatrixInputError("no matrix input") }
        for shard in shards.dropFirst() where shard.header.columns != first.header.columns {
            throw MatrixInputError("dimension mismatch: \(shard.label) is \(shard.header.summary), \(first.label) is "
                + "\(first.header.summary) (expected \(first.header.columns) columns, got \(shard.header.columns))")
        }
        var stream = MatrixStream(shards: shards)
        if let ids {
            stream.idFiles = [RowFile(path: ids, rows: nil)]
        } else if sidecars.allSatisfy({ $0 != nil }) {
            stream.idFiles = zip(sidecars, shards).map { RowFile(path: $0!, rows: $1.header.rows) }
        } else if !parquetWithoutIds.isEmpty {
            throw MatrixInputError("""
                \(parquetWithoutIds[0]) holds the ids, but prunerd does not read Parquet (Debian ships no Parquet \
                C library). Write each shard's ids beside it, one per line, as metadata/metadata_N.ids (e.g. \
                python3 -c "import pyarrow.parquet as pq; open('metadata_0.ids','w').write('\\n'.join(map(str, \
                pq.read_table('metadata_0.parquet', columns=['uid']).column(0).to_pylist())) + '\\n')"), pass one \
                ids file for all shards with --ids FILE, or stream the folder with the Python client \
                (prunerd.read_clip_retrieval); see docs/inputs.md
                """)
        } else if sidecars.contains(where: { $0 != nil }) {
            let missing = zip(sidecars, shards).first { $0.0 == nil }!.1
            throw MatrixInputError("\(missing.label) has no ids file beside it while other shards do; give every shard "
                + "its ids file, or one --ids FILE for all")
        }
        if let scores { stream.scoreFiles = [RowFile(path: scores, rows: nil)] }
        return stream
    }

    /// A `.npy` file as a shard.
    static func npyShard(path: String) throws -> MatrixShard {
        guard case .regularFile(let size) = FileSystem.kind(ofPath: path) else {
            throw MatrixInputError("\(path): not a regular file")
        }
        let header = try readHeader(ShardReader(path: path, start: 0, length: size, deflated: false), label: path)
        let expected = UInt64(header.dataOffset) + UInt64(header.dataLength)
        guard size >= expected else {
            throw MatrixInputError("\(path): truncated .npy: the header promises \(header.summary) "
                + "(\(expected) bytes), the file has \(size) bytes")
        }
        return MatrixShard(path: path, member: nil, start: 0, length: expected, deflated: false, header: header,
                           sourceName: InputOpener.inputName(forPath: path))
    }

    /// The chosen member of an `.npz` as a shard.
    static func npzShard(path: String, key: String?) throws -> MatrixShard {
        guard case .regularFile(let size) = FileSystem.kind(ofPath: path) else {
            throw MatrixInputError("\(path): not a regular file")
        }
        let fd = try FileSystem.openForReading(path)
        defer { FileSystem.close(fd) }
        let tailLength = Int(min(UInt64(ZipDirectory.tailLength), size))
        let tail = try FileSystem.readBytes(fd, count: tailLength, at: size - UInt64(tailLength), path: path)
        let members: [ZipMember]
        do {
            let directory = try ZipDirectory.locate(tail: tail, fileSize: size)
            let bytes = try FileSystem.readBytes(fd, count: Int(directory.size), at: directory.offset, path: path)
            members = try ZipDirectory.members(directory: bytes, entries: directory.entries)
        } catch let error as NPYError {
            throw MatrixInputError("\(path): a zip archive, but not a readable .npz: \(error.reason)")
        }
        var candidates: [(member: ZipMember, shard: MatrixShard)] = []
        var skipped: [String] = []
        for member in members where member.name.hasSuffix(".npy") {
            let name = String(member.name.dropLast(4))
            if let key, name != key { continue }
            let deflated: Bool
            switch member.method {
            case .stored: deflated = false
            case .deflated: deflated = true
            case .other(let method):
                throw MatrixInputError("\(path)[\(name)]: zip compression method \(method) is not supported (stored and deflated are)")
            }
            let local = try FileSystem.readBytes(fd, count: 30, at: member.localHeaderOffset, path: path)
            let start: UInt64
            do { start = try ZipDirectory.dataOffset(of: member, localHeader: local) } catch {
                throw MatrixInputError("\(path)[\(name)]: \(error.reason)")
            }
            let label = "\(path)[\(name)]"
            let header: NPYHeader
            do {
                header = try readHeader(ShardReader(path: path, start: start, length: member.compressedSize, deflated: deflated),
                                        label: label)
            } catch let error as MatrixInputError where key == nil {
                skipped.append("\(name) (\(error.description.replacingPrefix(label + ": ")))")
                continue
            }
            candidates.append((member, MatrixShard(path: path, member: name, start: start, length: member.compressedSize,
                                                   deflated: deflated, header: header,
                                                   sourceName: InputOpener.inputName(forPath: path) + "#" + name)))
        }
        let names = members.map { String($0.name.hasSuffix(".npy") ? $0.name.dropLast(4) : $0.name[...]) }
        if let key, candidates.isEmpty {
            throw MatrixInputError("\(path) has no member '\(key)' (members: \(names.joined(separator: ", ")))")
        }
        guard candidates.count == 1 else {
            if candidates.isEmpty {
                throw MatrixInputError("\(path) holds no 2-D float matrix (members: \(skipped.joined(separator: "; ")))")
            }
            let listed = candidates.map { "\($0.shard.member!) (\($0.shard.header.summary))" }.joined(separator: ", ")
            throw MatrixInputError("\(path) holds several matrices: \(listed); choose one with --npz-key NAME")
        }
        return candidates[0].shard
    }

    /// Reads and parses the header at the start of a shard's bytes.
    static func readHeader(_ reader: ShardReader, label: String, allowVector: Bool = false) throws -> NPYHeader {
        var prefix = try reader.prefix(4096)
        do {
            var needed = try prefix.withUnsafeBytes { raw in try NPYHeader.preambleLength(raw) }
            if let length = needed, length > prefix.count {
                prefix += try reader.prefix(length - prefix.count)
                needed = length
            }
            guard needed != nil else { throw NPYError("truncated header (\(prefix.count) bytes)") }
            return try prefix.withUnsafeBytes { raw in try NPYHeader.parse(raw, allowVector: allowVector) }
        } catch let error as NPYError {
            throw MatrixInputError("\(label): \(error.description)")
        }
    }
}

extension String {
    func replacingPrefix(_ prefix: String) -> String { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self }
}

/// A clip-retrieval output folder: `img_emb/img_emb_N.npy` (or `text_emb/text_emb_N.npy`)
/// and `metadata/metadata_N.parquet`, paired by N.
struct ClipRetrievalFolder {
    /// Embedding shards, by N ascending.
    var embeddings: [String] = []
    /// The ids sidecar of each shard, when there is one.
    var idFiles: [String?] = []
    /// Its parquet metadata, when there is one.
    var parquetFiles: [String?] = []

    /// Whether `path` has an `img_emb/` or `text_emb/` folder, or `img_emb_N.npy` files.
    static func looksLikeOne(_ path: String) -> Bool {
        let entries = (try? FileSystem.listDirectory(path)) ?? []
        return entries.contains { $0 == "img_emb" || $0 == "text_emb" || ($0.hasPrefix("img_emb_") && $0.hasSuffix(".npy")) }
    }

    init(path: String) throws {
        let root = path.hasSuffix("/") ? String(path.dropLast()) : path
        let entries = Set(try FileSystem.listDirectory(root))
        var embeddingDirectory = root
        var prefix = "img_emb_"
        if entries.contains("img_emb") {
            embeddingDirectory = root + "/img_emb"
        } else if entries.contains("text_emb") {
            embeddingDirectory = root + "/text_emb"
            prefix = "text_emb_"
        } else if !entries.contains(where: { $0.hasPrefix("img_emb_") && $0.hasSuffix(".npy") }) {
            prefix = "text_emb_"
        }
        let names = try FileSystem.listDirectory(embeddingDirectory)
        let numbered = names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix(prefix), name.hasSuffix(".npy"),
                  let number = Int(name.dropFirst(prefix.count).dropLast(4)) else { return nil }
            return (number, name)
        }.sorted { $0.0 < $1.0 }
        guard !numbered.isEmpty else {
            throw MatrixInputError("\(path): a directory, but not a clip-retrieval folder (no img_emb/img_emb_N.npy "
                + "or text_emb/text_emb_N.npy); give .npy files or a folder of that shape")
        }
        let metadata = root + "/metadata"
        let metadataNames = Set((try? FileSystem.listDirectory(metadata)) ?? [])
        let embeddingNames = Set(names)
        for (number, name) in numbered {
            embeddings.append(embeddingDirectory + "/" + name)
            if embeddingNames.contains("ids_\(number).txt") {
                idFiles.append(embeddingDirectory + "/ids_\(number).txt")
            } else if metadataNames.contains("metadata_\(number).ids") {
                idFiles.append(metadata + "/metadata_\(number).ids")
            } else {
                idFiles.append(nil)
            }
            parquetFiles.append(metadataNames.contains("metadata_\(number).parquet") ? metadata + "/metadata_\(number).parquet" : nil)
        }
    }
}
