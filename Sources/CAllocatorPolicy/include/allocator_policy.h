// CAllocatorPolicy: glibc malloc settings for a long-running, multi-threaded
// daemon. Swift's Glibc module does not expose mallopt(3), hence this shim.
#ifndef PRUNERD_ALLOCATOR_POLICY_H
#define PRUNERD_ALLOCATOR_POLICY_H

/// Caps glibc at two heap arenas and fixes the mmap threshold at 1 MiB, so
/// multi-megabyte batch buffers that are allocated on one thread and freed on
/// another are always mmapped and returned to the kernel, instead of
/// fragmenting per-thread arenas (peak RSS then stays flat in stream length).
/// Returns 1 when both settings were applied.
int prunerd_apply_allocator_policy(void);

#endif
