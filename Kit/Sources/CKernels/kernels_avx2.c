// The kernels compiled for AVX2 and FMA, only on x86: every function in this
// file carries the target attribute, so nothing outside it uses these
// instructions, and dispatch.c calls it only on a CPU that has them.
#include "kernel_table.h"

#ifdef MK_X86
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <immintrin.h>
#include <pthread.h>

// mk_sgemm's micro-tile: 6 rows x 16 columns (12 of the 16 vector registers hold C).
#define MK_GEMM_VW 8
#define MK_GEMM_MR 6
typedef __m256 mk_gemm_vec;
#define MK_GEMM_LOAD(p) _mm256_loadu_ps(p)
#define MK_GEMM_STORE(p, v) _mm256_storeu_ps(p, v)
// The first n (< MK_GEMM_VW) floats of v.
#define MK_GEMM_STORE_FIRST(p, v, n) \
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), v)
#define MK_GEMM_SET1(x) _mm256_set1_ps(x)
#define MK_GEMM_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define MK_GEMM_MUL(a, b) _mm256_mul_ps(a, b)
#define MK_GEMM_ZERO() _mm256_setzero_ps()
#define MK_STREAM_STORE(p, v) _mm256_stream_ps(p, v)
#define MK_STREAM_FENCE() _mm_sfence()

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

// An 8x8 block of floats transposed in registers (rows lds apart in, ldd apart out): row k of dst is column k
// of src. Shuffles of 32-bit pairs, then 64-bit pairs, then 128-bit halves.
static inline void mk_gemm_transpose(const float *src, size_t lds, float *dst, size_t ldd) {
    __m256 r[8], t[8];
#pragma clang loop unroll(full)
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + i * lds);
#pragma clang loop unroll(full)
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < 2; i++) {
        r[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xee);
        r[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
    }
#pragma clang loop unroll(full)
    for (int j = 0; j < 4; j++) {
        _mm256_storeu_ps(dst + j * ldd, _mm256_permute2f128_ps(r[j], r[j + 4], 0x20));
        _mm256_storeu_ps(dst + (j + 4) * ldd, _mm256_permute2f128_ps(r[j], r[j + 4], 0x31));
    }
}
#define MK_GEMM_TRANSPOSE mk_gemm_transpose

#include "kernels_impl.h"
#include "dense_impl.h"
#include "gemm_impl.h"
// Attention's per-head products: 2 rows x 4 vectors: 8 of the 16 vector registers hold the block, 5 more the operands.
#define MK_ATTENTION_ROWS 2
#include "attention_impl.h"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

MK_DEFINE_KERNEL_TABLE(mk_kernels_avx2)
#endif
