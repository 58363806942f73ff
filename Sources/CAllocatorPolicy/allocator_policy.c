#include "allocator_policy.h"
#include <malloc.h>

int prunerd_apply_allocator_policy(void) {
    // Setting M_MMAP_THRESHOLD also turns off glibc's dynamic threshold, which
    // otherwise rises after large frees and moves big buffers into the arenas.
    int arenas = mallopt(M_ARENA_MAX, 2);
    int threshold = mallopt(M_MMAP_THRESHOLD, 1 << 20);
    return arenas == 1 && threshold == 1;
}
