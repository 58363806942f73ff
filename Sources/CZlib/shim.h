// CZlib: zlib's inflate, for deflated members of .npz archives (numpy.savez_compressed);
// through pkg-config `zlib` (Debian: zlib1g-dev).
#ifndef PRUNERD_CZLIB_SHIM_H
#define PRUNERD_CZLIB_SHIM_H
#include <zlib.h>

// inflateInit2 is a macro Swift cannot import; this is the function it expands to.
static inline int prunerd_inflate_init_raw(z_streamp stream) {
    return inflateInit2(stream, -15);
}
#endif
