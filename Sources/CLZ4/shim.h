// CLZ4: liblz4's frame API (lz4frame.h), through pkg-config `liblz4` (Debian: liblz4-dev).
#ifndef PRUNERD_CLZ4_SHIM_H
#define PRUNERD_CLZ4_SHIM_H
#include <lz4frame.h>
#endif
