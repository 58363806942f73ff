// NPYArray against real numpy: files numpy wrote decode, files we write numpy reads.

import Foundation
import PrunerIO
import Testing

@Suite("NPYArray")
struct NPYTests {
    @Test("arrays written by numpy decode for <f4, <f2, <f8 and header versions 1.0 and 2.0")
    func decodesNumpyFiles() throws {
        guard let python = findTool("python3") else { throw ToolFailure(description: "python3 not installed") }
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try run(python, ["-c", """
            import numpy as np, sys
            from numpy.lib import format as fmt
            d = sys.argv[1]
            a = (np.arange(12, dtype=np.float64).reshape(3, 4) - 5.5) / 3
            np.save(d + '/f4.npy', a.astype('<f4'))
            np.save(d + '/f2.npy', a.astype('<f2'))
            np.save(d + '/f8.npy', a.astype('<f8'))
            with open(d + '/v2.npy', 'wb') as f:
                fmt.write_array(f, a.astype('<f4'), version=(2, 0))
            np.save(d + '/fortran.npy', np.asfortranarray(a.astype('<f4')))
            np.save(d + '/oned.npy', np.zeros(4, dtype='<f4'))
            np.save(d + '/int.npy', np.zeros((2, 2), dtype='<i4'))
            np.save(d + '/big.npy', a.astype('>f4'))
            """, dir.path])
        let expected: [Float] = (0..<12).map { Float((Double($0) - 5.5) / 3) }
        for name in ["f4", "v2", "f8"] {
            let array = try NPYArray.decode(readBytes(dir.appendingPathComponent("\(name).npy")))
            #expect(array.rows == 3 && array.columns == 4, "\(name)")
            #expect(array.values == expected, "\(name)")
        }
        let half = try NPYArray.decode(readBytes(dir.appendingPathComponent("f2.npy")))
        #expect(half.values == expected.map { Float(Float16($0)) })

        for (name, fragment) in [("fortran", "fortran_order"), ("oned", "2-D"), ("int", "<i4"), ("big", ">f4")] {
            #expect(throws: NPYError.self, "\(name)") { try NPYArray.decode(readBytes(dir.appendingPathComponent("\(name).npy"))) }
            do {
                _ = try NPYArray.decode(readBytes(dir.appendingPathComponent("\(name).npy")))
            } catch let error as NPYError {
                #expect(error.description.contains(fragment), "\(name): \(error)")
            }
        }
        var truncated = try readBytes(dir.appendingPathComponent("f4.npy"))
        truncated.removeLast(3)
        #expect(throws: NPYError.self) { try NPYArray.decode(truncated) }
        #expect(throws: NPYError.self) { try NPYArray.decode(Array("not numpy".utf8)) }
    }

    @Test("encodeFloat32 output is read back by numpy exactly")
    func numpyReadsOurFiles() throws {
        guard let python = findTool("python3") else { throw ToolFailure(description: "python3 not installed") }
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64(seed: 8)
        let values = randomVector(5 * 7, &rng)
        let bytes = NPYArray.encodeFloat32(rows: 5, columns: 7, values: values)
        let path = dir.appendingPathComponent("ours.npy").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let output = try run(python, ["-c", """
            import numpy as np, sys
            a = np.load(sys.argv[1])
            print(a.dtype.str, a.shape, a.flags['C_CONTIGUOUS'])
            print(' '.join(str(int(x)) for x in a.view('<u4').ravel()))
            """, path])
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
        #expect(lines.first == "<f4 (5, 7) True")
        #expect(lines.dropFirst().first?.split(separator: " ").map { UInt32($0)! } == values.map(\.bitPattern))
        #expect(bytes.count == 128 + 4 * 35)  // header padded to a multiple of 64
        #expect(try NPYArray.decode(bytes) == NPYArray(rows: 5, columns: 7, values: values))
    }
}
