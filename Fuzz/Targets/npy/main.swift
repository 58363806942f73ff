// fuzz-npy: libFuzzer over FuzzTarget.npy. Built only by scripts/fuzz
// (-sanitize=fuzzer,address); arguments are libFuzzer's (corpus folders, -runs=N, …).
//
// SwiftPM links an executable with `--defsym main=<module>_main`, so this file's
// top-level code is the program's main (not libFuzzer's): it hands control to
// libFuzzer's driver. libFuzzer's own main still references
// LLVMFuzzerTestOneInput, hence the exported name.
#if canImport(Glibc)
import Glibc
#endif
import CLibFuzzer
import PrunerFuzzing

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    do {
        try FuzzTarget.npy.run(UnsafeRawBufferPointer(start: data, count: size))
    } catch {
        fatalError("fuzz-npy: \(error)")
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
