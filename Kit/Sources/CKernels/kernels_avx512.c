// The kernels compiled for AVX-512 (F, BW, VL, DQ), only on x86: every function in this
// file carries the target attribute, so nothing outside it uses these
// instructions, and dispatch.c calls it only on a CPU that has them.
#include "kernel_table.h"

#ifdef MK_X86
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <immintrin.h>
#include <pthread.h>

// mk_sgemm's micro-tile: 12 rows x 32 columns (24 of the 32 vector registers hold C).
#define MK_GEMM_VW 16
#define MK_GEMM_MR 12
typedef __m512 mk_gemm_vec;
#define MK_GEMM_LOAD(p) _mm512_loadu_ps(p)
#define MK_GEMM_STORE(p, v) _mm512_storeu_ps(p, v)
#define MK_GEMM_SET1(x) _mm512_set1_ps(x)
#define MK_GEMM_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define MK_GEMM_MUL(a, b) _mm512_mul_ps(a, b)
#define MK_GEMM_ZERO() _mm512_setzero_ps()

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#endif

// A 16x16 block of floats transposed in registers (rows lds apart in, ldd apart out): row k of dst is column k
// of src. Four rounds of shuffles: 32-bit pairs, 64-bit pairs, then 128-bit lanes twice.
static inline void mk_gemm_transpose(const float *src, size_t lds, float *dst, size_t ldd) {
    __m512 r[16], t[16];
#pragma clang loop unroll(full)
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * lds);
#pragma clang loop unroll(full)
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < 2; i++)
#pragma clang loop unroll(full)
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + j + 4], 0x88);
            t[8 * i + j + 4] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + j + 4], 0xdd);
        }
#pragma clang loop unroll(full)
    for (int j = 0; j < 8; j++) {
        _mm512_storeu_ps(dst + j * ldd, _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88));
        _mm512_storeu_ps(dst + (j + 8) * ldd, _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd));
    }
}
#define MK_GEMM_TRANSPOSE mk_gemm_transpose

#include "kernels_impl.h"
#include "dense_impl.h"
#include "gemm_impl.h"
// Attention's per-head products: 8 rows x 2 vectors: 16 of the 32 vector registers hold the block.
#define MK_ATTENTION_ROWS 8
#include "attention_impl.h"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

MK_DEFINE_KERNEL_TABLE(mk_kernels_avx512)
#endif
