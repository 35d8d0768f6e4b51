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
// The first n (< MK_GEMM_VW) floats of v (mk_store_tail8 below).
#define MK_GEMM_STORE_FIRST(p, v, n) mk_store_tail8(p, v, n)
#define MK_GEMM_SET1(x) _mm256_set1_ps(x)
#define MK_GEMM_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define MK_GEMM_MUL(a, b) _mm256_mul_ps(a, b)
#define MK_GEMM_ADD(a, b) _mm256_add_ps(a, b)
#define MK_GEMM_DIV(a, b) _mm256_div_ps(a, b)
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

#include "vector_math.h"

// e^x for x <= 0 (GELU's Gaussian factors) on 8 lanes: mk_expf's range reduction, polynomial and power of two
// (2^n built in the exponent bits, 0 below -88.38 as mk_expf gives), its floor by one rounding instruction.
static inline __m256 mk_exp_nonpositive8(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949f));
    __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    __m256 y = mk_exp_reduced(x, fx);
    __m256i n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(n));
}

// GELU and its derivative (mk_gelu_erf1's and mk_gelu_slope1's formulas, A&S 7.1.26's erf) of 8 values, from one
// exponential and one erf.
static inline void mk_gelu_parts8(__m256 v, __m256 *gelu, __m256 *slope) {
    const __m256 sign = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f);
    __m256 u = _mm256_mul_ps(v, _mm256_set1_ps(0.70710678118654752f));
    __m256 a = _mm256_andnot_ps(sign, u);
    __m256 e = mk_exp_nonpositive8(_mm256_mul_ps(_mm256_xor_ps(a, sign), a));
    __m256 erf = _mm256_or_ps(_mm256_fnmadd_ps(mk_erf_poly(a), e, _mm256_set1_ps(1.0f)), _mm256_and_ps(u, sign));
    __m256 hv = _mm256_mul_ps(v, half);
    *gelu = _mm256_fmadd_ps(hv, erf, hv);
    __m256 cdf = _mm256_fmadd_ps(half, erf, half);
    *slope = _mm256_fmadd_ps(_mm256_mul_ps(v, _mm256_set1_ps(0.39894228040143268f)), e, cdf);
}

// The last n (< 8) floats at p, padded with zeros, and back: tails go through these rather than masked loads and
// stores (a masked store is microcoded on AMD's cores: with every store of GELU's epilogue masked, it ran at half the
// speed).
static inline __m256 mk_load_tail8(const float *p, size_t n) {
    float padded[8] = {0};
    memcpy(padded, p, n * sizeof(float));
    return _mm256_loadu_ps(padded);
}

static inline void mk_store_tail8(float *p, __m256 v, size_t n) {
    float padded[8];
    _mm256_storeu_ps(padded, v);
    memcpy(p, padded, n * sizeof(float));
}

// mk_gelu, mk_gelu_backward and mk_gelu_with_slope (kernels_impl.h) on 8 lanes. The scalar loops they replace did
// not vectorise: with GELU's epilogue, small128's first-stage fc1 (16384 x 256 x 64) ran 30 GFLOP/s on this path
// against 212 without it (`mixmae bench ops`' step table, two Zen 4 cores).
static void mk_gelu8(const float *x, float *y, size_t n) {
    __m256 gelu, slope;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        mk_gelu_parts8(_mm256_loadu_ps(x + i), &gelu, &slope);
        _mm256_storeu_ps(y + i, gelu);
    }
    if (i == n) return;
    mk_gelu_parts8(mk_load_tail8(x + i, n - i), &gelu, &slope);
    mk_store_tail8(y + i, gelu, n - i);
}

static void mk_gelu_backward8(const float *x, const float *gy, float *gx, size_t n) {
    __m256 gelu, slope;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        mk_gelu_parts8(_mm256_loadu_ps(x + i), &gelu, &slope);
        _mm256_storeu_ps(gx + i, _mm256_mul_ps(_mm256_loadu_ps(gy + i), slope));
    }
    if (i == n) return;
    mk_gelu_parts8(mk_load_tail8(x + i, n - i), &gelu, &slope);
    mk_store_tail8(gx + i, _mm256_mul_ps(mk_load_tail8(gy + i, n - i), slope), n - i);
}

// x may be slope_out itself (see mk_gelu_with_slope): each vector is loaded before either store.
static void mk_gelu_with_slope8(const float *x, float *y, float *slope_out, size_t n) {
    __m256 gelu, slope;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        mk_gelu_parts8(_mm256_loadu_ps(x + i), &gelu, &slope);
        _mm256_storeu_ps(y + i, gelu);
        _mm256_storeu_ps(slope_out + i, slope);
    }
    if (i == n) return;
    mk_gelu_parts8(mk_load_tail8(x + i, n - i), &gelu, &slope);
    mk_store_tail8(y + i, gelu, n - i);
    mk_store_tail8(slope_out + i, slope, n - i);
}
#define MK_GELU_VECTOR mk_gelu8
#define MK_GELU_BACKWARD_VECTOR mk_gelu_backward8
#define MK_GELU_WITH_SLOPE_VECTOR mk_gelu_with_slope8

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
