// hiredis 0.14 (Debian's libhiredis-dev): the async API and its libuv adapter,
// which prunerd attaches to its own libuv loop. The adapter is a header of static
// functions (redisLibuvAttach and its event callbacks); including it here compiles
// it into the one Swift module that uses it (Sources/PrunerDaemon/Redis).
#ifndef PRUNERD_CHIREDIS_SHIM_H
#define PRUNERD_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>
#endif
