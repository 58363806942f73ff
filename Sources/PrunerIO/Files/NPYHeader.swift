// The preamble of a `.npy` file: magic, version, and the header dictionary
// (`{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`), parsed into
// what a matrix of embeddings needs: element type, rows, columns.

/// The element types prunerd reads from `.npy` matrices.
public enum NPYElement: String, Sendable, CaseIterable {
    case float16 = "<f2"
    case float32 = "<f4"
    case float64 = "<f8"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float16: return 2
        case .float32: return 4
        case .float64: return 8
        }
    }
}

/// A parsed `.npy` header: what the data bytes after it hold.
///
/// Why a type of its own: the daemon reads headers up front (to check shards
/// agree and to know the total for progress) and again in the stream.
public struct NPYHeader: Sendable, Equatable {
    public var element: NPYElement
    /// Rows: the first dimension. A 1-D array (scores) has `columns == 1`.
    public var rows: Int
    public var columns: Int
    /// The shape as written, for messages.
    public var shape: [Int]
    /// Bytes from the start of the file to the first data byte.
    public var dataOffset: Int

    /// Bytes of data the header announces.
    public var dataLength: Int { rows * columns * element.size }

    /// `\x93NUMPY`.
    public static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// How many bytes from the start are needed to know the header's length
    /// (`nil`: not yet known, give more bytes), or the total header size.
    public static func preambleLength(_ prefix: UnsafeRawBufferPointer) throws(NPYError) -> Int? {
        let known = min(prefix.count, 6)
        for index in 0..<known where prefix[index] != magic[index] {
            throw NPYError("not a .npy file (missing \\x93NUMPY magic)")
        }
        guard prefix.count >= 8 else { return nil }
        switch prefix[6] {
        case 1:
            guard prefix.count >= 10 else { return nil }
            return 10 + (Int(prefix[8]) | Int(prefix[9]) << 8)
        case 2, 3:
            guard prefix.count >= 12 else { return nil }
            return 12 + (Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24)
        default:
            throw NPYError("unsupported .npy version \(prefix[6]).\(prefix[7])")
        }
    }

    /// Parses a complete preamble (`preambleLength` bytes).
    /// - Parameter allowVector: accept a 1-D array as `n × 1` (score files).
    public static func parse(_ preamble: UnsafeRawBufferPointer, allowVector: Bool = false) throws(NPYError) -> NPYHeader {
        guard let total = try preambleLength(preamble), total <= preamble.count else {
            throw NPYError("truncated header")
        }
        let dictionaryStart = preamble[6] == 1 ? 10 : 12
        var parser = NPYHeaderParser(Array(preamble[dictionaryStart..<total]))
        let fields: [String: NPYHeaderValue]
        do { fields = try parser.parseDictionary() } catch let error as NPYError { throw error } catch {
            throw NPYError("malformed header")
        }
        guard case .string(let descr)? = fields["descr"] else { throw NPYError("header has no 'descr' string") }
        guard case .bool(let fortran)? = fields["fortran_order"] else {
            throw NPYError("header has no 'fortran_order' boolean")
        }
        guard case .tuple(let shape)? = fields["shape"] else { throw NPYError("header has no 'shape' tuple") }
        guard let element = NPYElement(rawValue: descr) else {
            let hint = descr.hasPrefix(">") ? " (big-endian: save with arr.astype('<f4'))"
                : " (save as float16 or float32, e.g. arr.astype('float32'))"
            throw NPYError("unsupported dtype '\(descr)', need '<f2', '<f4' or '<f8'\(hint)")
        }
        let rows: Int, columns: Int
        switch shape.count {
        case 2 where !(fortran && shape[0] > 1 && shape[1] > 1):
            (rows, columns) = (shape[0], shape[1])
        case 2:
            throw NPYError("fortran_order: True is not supported (save with C order: np.ascontiguousarray(arr))")
        case 1 where allowVector:
            (rows, columns) = (shape[0], 1)
        default:
            let written = "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
            throw NPYError("expected a 2-D array (rows × columns), got shape \(written) of \(shape.count) dimension(s)")
        }
        let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard !overflow, !count.multipliedReportingOverflow(by: element.size).overflow else {
            throw NPYError("shape \(shape) is too large")
        }
        return NPYHeader(element: element, rows: rows, columns: columns, shape: shape, dataOffset: total)
    }

    /// `rows × columns '<f2'`, for messages.
    public var summary: String { "\(rows) × \(columns) '\(element.rawValue)'" }
}
