// libFuzzer's driver entry (compiler-rt, linked by -sanitize=fuzzer). Declared
// here because SwiftPM gives an executable target its own `main` (renamed per
// module so tests can link it), which libFuzzer's `main` would clash with: the
// fuzz executables' top-level code calls the driver instead.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
