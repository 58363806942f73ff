// `prunerd encode` and `prunerd decode`: the converters between the files users
// have (.npy/.npz matrices, ids, scores) and the wire format, streamed in
// bounded memory, so that any of them pipes into a file, a FIFO or a socket.
import ArgumentParser
import PrunerCore
import PrunerDaemon
import PrunerIO

/// Buffered output to stdout or a file, flushed in large writes.
final class ByteSink {
    private let fd: Int32
    private let name: String
    private var buffer: [UInt8] = []
    private let lz4: LZ4FrameEncoder?
    /// Bytes written so far (after compression).
    private(set) var written: UInt64 = 0

    init(path: String?, compressed: Bool) throws {
        if let path, path != "-" {
            fd = try FileSystem.openForWriting(path)
            name = path
        } else {
            fd = 1
            name = "stdout"
        }
        lz4 = compressed ? LZ4FrameEncoder() : nil
        buffer.reserveCapacity(1 << 20)
    }

    func append(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        if let lz4 {
            var compressed: [UInt8] = []
            buffer.withUnsafeBytes { raw in lz4.feed(raw) { compressed.append(contentsOf: $0) } }
            try emit(compressed)
        } else {
            try emit(buffer)
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private func emit(_ bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { return }
        try FileSystem.write(bytes, to: fd, name: name)
        written += UInt64(bytes.count)
    }

    func finish() throws {
        try flush()
        if let lz4 {
            var tail: [UInt8] = []
            lz4.finish { tail.append(contentsOf: $0) }
            try emit(tail)
        }
        if fd != 1 { FileSystem.close(fd) }
    }
}

struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Convert .npy/.npz matrices (with ids and scores) or record files to PRN1 records, LZ4-framed, on stdout.",
        discussion: """
            Streams: memory does not grow with the input (one read buffer, one LZ4 block). Record files (PRN1, \
            JSON Lines) are re-encoded in the order given, then the matrices as one stream. Pipe the output into \
            a file, `prunerd serve -`, or a socket (e.g. `socat - UNIX-CONNECT:/run/prunerd/in.sock`). \
            See docs/inputs.md.
            """)

    enum DType: String, ExpressibleByArgument, CaseIterable {
        case auto, f16, f32, bf16
    }

    enum Compression: String, ExpressibleByArgument, CaseIterable {
        case lz4, raw
    }

    @OptionGroup var input: InputOptions

    @Option(name: .customLong("dtype"),
            help: "Element type of the vectors: auto (default: float16 for a float16 matrix, else float32, so nothing is lost), f16, f32 or bf16.")
    var dtype: DType = .auto

    @Option(name: .customLong("compression"), help: "lz4 (default: one LZ4 frame with a checksum over the whole stream, which serve verifies; float16 embeddings barely compress, 1.7% on the docstrings data) or raw.")
    var compression: Compression = .lz4

    @Option(name: [.customShort("o"), .customLong("output")], help: "Write here instead of stdout.")
    var output: String?

    func run() throws {
        let (streams, matrices) = try input.resolve()
        guard !streams.isEmpty || matrices != nil else { throw ValidationError("encode needs an input (a .npy, .npz, folder or record file)") }
        if let matrices, matrices.rows == 0 {
            throw RunError("no records: \(matrices.shards.map(\.label).joined(separator: " ")) \(matrices.shards.count == 1 ? "has" : "have") 0 rows")
        }
        let sink = try ByteSink(path: output, compressed: compression == .lz4)
        var count = 0
        var skipped = 0
        var dimension: Int?
        var failure: Error?
        func encode(_ event: RecordEvent, element: ElementType) {
            guard failure == nil else { return }
            switch event {
            case .record(let id, let vector, let score):
                guard vector.count <= Int(UInt16.max), id.utf8.count <= 1024 else { skipped += 1; return }
                dimension = dimension ?? vector.count
                do { try sink.append(RecordEncoder.prn1(id: id, vector: Array(vector), dtype: element, score: score)) } catch {
                    failure = error
                }
                count += 1
            case .rejected:
                skipped += 1
            }
        }
        let progress = ProgressMeter.standardError(total: matrices?.byteCount, unit: "bytes")
        for path in streams {
            let element = dtype.element(matrix: nil)
            try RecordFileReader.read(path: path) { event, _ in encode(event, element: element); progress?.records(count) }
        }
        if let matrices {
            let element = dtype.element(matrix: matrices.shards[0].header.element)
            try RecordFileReader.read(stream: matrices, progress: { progress?.bytes($0, records: count) }) { event, _, _ in
                encode(event, element: element)
            }
        }
        if let failure { throw failure }
        try sink.finish()
        progress?.finish()
        guard count > 0 else {
            throw RunError("no records: \(input.inputs.joined(separator: " ")) held none" + (skipped > 0 ? " (\(skipped) unusable)" : ""))
        }
        printToStandardError("encoded \(count) records of dimension \(dimension ?? 0) as \(dtype.element(matrix: matrices?.shards[0].header.element)) "
            + "PRN1, \(compression.rawValue): \(sink.written) bytes" + (skipped > 0 ? "; \(skipped) records skipped (no usable id or too large for PRN1)" : "") + "\n")
    }
}

extension EncodeCommand.DType {
    func element(matrix: NPYElement?) -> ElementType {
        switch self {
        case .f16: return .float16
        case .f32: return .float32
        case .bf16: return .bfloat16
        case .auto: return matrix == .float16 ? .float16 : .float32
        }
    }
}

struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Print the records of PRN1/JSON Lines (raw or LZ4) or .npy/.npz input as JSON Lines, for debugging.",
        discussion: """
            One line per record: {"id":…,"embedding":[…],"score":…} as sent (not normalised). A record the daemon \
            would reject prints {"seq":N,"id":…,"rejected":"reason"}. A stream that cannot be framed stops with the \
            byte offset and the reason, after the records before it.
            """)

    @OptionGroup var input: InputOptions

    @Option(name: .customLong("max-record-size"), help: "Largest record accepted, in bytes (default 1 MiB, as serve).")
    var maxRecordSize: Int = 1 << 20

    func validate() throws {
        guard maxRecordSize >= 16 else { throw ValidationError("--max-record-size must be at least 16 bytes, not \(maxRecordSize)") }
    }

    func run() throws {
        let (streams, matrices) = try input.resolve()
        let sink = try ByteSink(path: nil, compressed: false)
        let paths = streams.isEmpty && matrices == nil ? ["-"] : streams
        func print(_ event: RecordEvent, seq: UInt64) throws {
            switch event {
            case .record(let id, let vector, let score):
                try sink.append(RecordEncoder.jsonLine(id: id, vector: Array(vector), score: score))
            case .rejected(let id, let reason):
                var line = Array("{\"seq\":\(seq),\"id\":\"".utf8)
                DecisionLineFormatter.appendEscaped(id, to: &line)
                line += Array("\",\"rejected\":\"\(reason.rawValue)\"}\n".utf8)
                try sink.append(line)
            }
        }
        var failure: Error?
        for path in paths {
            try RecordFileReader.read(path: path, maxRecordSize: maxRecordSize) { event, seq in
                if failure == nil { do { try print(event, seq: seq) } catch { failure = error } }
            }
        }
        if let matrices {
            try RecordFileReader.read(stream: matrices) { event, _, seq in
                if failure == nil { do { try print(event, seq: seq) } catch { failure = error } }
            }
        }
        try sink.finish()
        if let failure { throw failure }
    }
}
