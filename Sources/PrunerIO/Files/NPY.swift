// numpy `.npy` arrays ↔ bytes, for centroid files (`--centroids`) and for
// writing them back. Only what centroids need: 2-D, C order, little-endian
// float32 / float16 / float64, header versions 1.0, 2.0 and 3.0.

/// A 2-D float array read from or written as `.npy` bytes.
///
/// Why our own parser: the format is small and fixed, and the daemon reads
/// files through libuv, so the codec only ever sees bytes.
public struct NPYArray: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    /// Row-major values, `rows × columns`, converted to Float.
    public var values: [Float]

    public init(rows: Int, columns: Int, values: [Float]) {
        precondition(values.count == rows * columns, "values.count must be rows × columns")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    private static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// Parses `.npy` bytes. Throws ``NPYError`` naming what is unsupported or malformed.
    public static func decode(_ bytes: [UInt8]) throws -> NPYArray {
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw NPYError("not a .npy file (missing \\x93NUMPY magic)")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw NPYError("truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw NPYError("unsupported .npy version \(major).\(bytes[7])")
        }
        guard headerStart + headerLength <= bytes.count else { throw NPYError("truncated header") }
        var header = NPYHeaderParser(Array(bytes[headerStart..<headerStart + headerLength]))
        let fields = try header.parseDictionary()

        guard case .string(let descr)? = fields["descr"] else { throw NPYError("header has no 'descr' string") }
        guard case .bool(let fortran)? = fields["fortran_order"] else {
            throw NPYError("header has no 'fortran_order' boolean")
        }
        guard !fortran else { throw NPYError("fortran_order: True is not supported (save with C order)") }
        guard case .tuple(let shape)? = fields["shape"] else { throw NPYError("header has no 'shape' tuple") }
        guard shape.count == 2 else {
            throw NPYError("expected a 2-D array (rows × columns), got shape \(shape) of \(shape.count) dimension(s)")
        }
        let (rows, columns) = (shape[0], shape[1])
        let elementSize: Int
        switch descr {
        case "<f4": elementSize = 4
        case "<f2": elementSize = 2
        case "<f8": elementSize = 8
        default: throw NPYError("unsupported dtype '\(descr)' (need '<f4', '<f2' or '<f8')")
        }
        let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard !overflow, count.multipliedReportingOverflow(by: elementSize).overflow == false else {
            throw NPYError("shape \(shape) is too large")
        }
        let dataStart = headerStart + headerLength
        guard bytes.count - dataStart == count * elementSize else {
            throw NPYError("data is \(bytes.count - dataStart) bytes, shape \(shape) of '\(descr)' needs \(count * elementSize)")
        }
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let data = raw.baseAddress! + dataStart
            values.withUnsafeMutableBufferPointer { out in
                switch elementSize {
                case 4: convertElements(.float32, from: data, count: count, to: out.baseAddress!)
                case 2: convertElements(.float16, from: data, count: count, to: out.baseAddress!)
                default:
                    for i in 0..<count {
                        let bits = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                        out[i] = Float(Double(bitPattern: bits))
                    }
                }
            }
        }
        return NPYArray(rows: rows, columns: columns, values: values)
    }

    /// `.npy` version 1.0 bytes of a C-order `<f4` array, header padded to 64 bytes as numpy does.
    public static func encodeFloat32(rows: Int, columns: Int, values: [Float]) -> [UInt8] {
        precondition(values.count == rows * columns, "values.count must be rows × columns")
        var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(columns)), }".utf8)
        let unpadded = 10 + header.count + 1
        header.append(contentsOf: Array(repeating: UInt8(ascii: " "), count: (64 - unpadded % 64) % 64))
        header.append(UInt8(ascii: "\n"))
        var out = magic + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
        out.reserveCapacity(out.count + header.count + 4 * values.count)
        out.append(contentsOf: header)
        for v in values {
            let bits = v.bitPattern.littleEndian
            out.append(UInt8(truncatingIfNeeded: bits))
            out.append(UInt8(truncatingIfNeeded: bits >> 8))
            out.append(UInt8(truncatingIfNeeded: bits >> 16))
            out.append(UInt8(truncatingIfNeeded: bits >> 24))
        }
        return out
    }
}

/// Why a `.npy` file could not be read.
public struct NPYError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, phrased for the operator who passed the file.
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { "invalid .npy: \(reason)" }
}
