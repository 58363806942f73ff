// CLibUV: libuv, seen from Swift through pkg-config `libuv` (Debian: libuv1-dev).
#ifndef PRUNERD_CLIBUV_SHIM_H
#define PRUNERD_CLIBUV_SHIM_H
#include <uv.h>
#endif
