// Issue rate of the three multiply-add instructions a nearest-centroid kernel
// could use, on this CPU: VFMADD231PS (16 float32 multiply-adds), VDPBF16PS
// (32 bfloat16) and VPDPBUSD (64 int8), 512-bit, 12 independent chains each.
// Decides which screen is worth having (docs/performance.md).
//   clang -O2 -o /tmp/isa-throughput bench/isa-throughput.c && /tmp/isa-throughput
// Thread CPU time, three rounds: the ratio between the columns is the figure.
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define FEATURES "avx512f,avx512bw,avx512vl,avx512bf16,avx512vnni"
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define ITERATIONS 20000000L

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((target(FEATURES), noinline)) static double fused(void) {
#define F(i) __m512 f##i = _mm512_set1_ps(i);
    CHAINS(F)
    __m512 a = _mm512_set1_ps(1.0001f), b = _mm512_set1_ps(0.9999f);
    for (long n = 0; n < ITERATIONS; n++) {
#define FS(i) f##i = _mm512_fmadd_ps(a, b, f##i);
        CHAINS(FS)
        __asm__ volatile("" : "+v"(a));
    }
#define FR(i) +_mm512_reduce_add_ps(f##i)
    return 0 CHAINS(FR);
}

__attribute__((target(FEATURES), noinline)) static double bfloat16(void) {
    CHAINS(F)
    __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80), b = a;
    for (long n = 0; n < ITERATIONS; n++) {
#define BS(i) f##i = _mm512_dpbf16_ps(f##i, a, b);
        CHAINS(BS)
        __asm__ volatile("" : "+v"(a));
    }
    return 0 CHAINS(FR);
}

__attribute__((target(FEATURES), noinline)) static double bytes(void) {
#define I(i) __m512i q##i = _mm512_set1_epi32(i);
    CHAINS(I)
    __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(5);
    for (long n = 0; n < ITERATIONS; n++) {
#define IS(i) q##i = _mm512_dpbusd_epi32(q##i, a, b);
        CHAINS(IS)
        __asm__ volatile("" : "+v"(a));
    }
#define IR(i) +_mm512_reduce_add_epi32(q##i)
    return 0 CHAINS(IR);
}

int main(void) {
    double count = ITERATIONS * 12.0;
    for (int round = 0; round < 3; round++) {
        double t0 = seconds(), x = fused(), t1 = seconds(), y = bfloat16(), t2 = seconds(), z = bytes(), t3 = seconds();
        printf("ns per instruction: vfmadd231ps %.3f  vdpbf16ps %.3f  vpdpbusd %.3f   (%g %g %g)\n",
               (t1 - t0) / count * 1e9, (t2 - t1) / count * 1e9, (t3 - t2) / count * 1e9, x, y, z);
    }
    return 0;
}
