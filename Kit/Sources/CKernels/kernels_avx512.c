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
// The first n (< MK_GEMM_VW) floats of v.
#define MK_GEMM_STORE_FIRST(p, v, n) _mm512_mask_storeu_ps(p, (__mmask16)((1u << (n)) - 1), v)
#define MK_GEMM_SET1(x) _mm512_set1_ps(x)
#define MK_GEMM_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define MK_GEMM_MUL(a, b) _mm512_mul_ps(a, b)
// c - a b, rounded once.
#define MK_GEMM_FNMADD(a, b, c) _mm512_fnmadd_ps(a, b, c)
#define MK_GEMM_ADD(a, b) _mm512_add_ps(a, b)
#define MK_GEMM_DIV(a, b) _mm512_div_ps(a, b)
#define MK_GEMM_AND(a, b) _mm512_and_ps(a, b)
#define MK_GEMM_ANDNOT(a, b) _mm512_andnot_ps(a, b)
#define MK_GEMM_OR(a, b) _mm512_or_ps(a, b)
#define MK_GEMM_XOR(a, b) _mm512_xor_ps(a, b)
#define MK_GEMM_ZERO() _mm512_setzero_ps()
#define MK_STREAM_STORE(p, v) _mm512_stream_ps(p, v)
#define MK_STREAM_FENCE() _mm_sfence()

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

#define MK_EXP_NONPOSITIVE mk_exp_nonpositive16
#include "vector_math.h"

// mk_expf's n = floor(x log2(e) + 1/2) in one instruction (roundscale), so that e^x = mk_exp_reduced(x, n) 2^n.
static inline __m512 mk_exp_exponent16(__m512 x) {
    return _mm512_roundscale_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)),
                                _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}

// A softmax's e^(x - max) (x <= 0, or -inf) on 16 lanes, lanes outside `keep` 0: mk_expf's value exactly, 0 where
// mk_expf's 2^n underflows to 0 (x below -87.68), by a two-instruction floor (roundscale) and scaling (scalef).
// Against mk_expf's clamps, truncation, compare and integer 2^n in the short-row kernel below, one thread, a 64-token
// block with bias: 1.57 against 1.92 us.
//
// No clamp of x at -88.38 as mk_expf's: every x below it has n <= -127, whose lanes the compare zeroes either way,
// and -inf or NaN give an n the compare also zeroes. The same bits; the 196-token block (as above) 15.4 against
// 15.6 us, 64 tokens 1.49 against 1.53.
static inline __m512 mk_exp_softmax16(__m512 x, __mmask16 keep) {
    __m512 fx = mk_exp_exponent16(x);
    keep &= _mm512_cmp_ps_mask(fx, _mm512_set1_ps(-126.5f), _CMP_GT_OQ);
    return _mm512_maskz_scalef_ps(keep, mk_exp_reduced(x, fx), fx);
}

// e^x for x <= 0 (GELU's Gaussian factors): mk_exp_softmax16 on every lane, so 0 where mk_expf's 2^n underflows to
// 0 (x below -87.68, GELU's |v| above 13.24), as mk_expf gives. Scaled there by scalef alone, the lanes were
// denormals, and every instruction GELU then applied to them (two multiplies and two fused multiply-adds) took a
// microcode assist on Intel cores. Xeon family 6 model 207, both threads, `mixmae bench ops`' small128 fc1
// (16384x256x64, x and W standard normal: v's standard deviation is 8) with GELU and its slope in the epilogue: 21-24
// GFLOP/s before, 93-131 after (204-247 and 148-220 without the epilogue in the same runs).
static inline __m512 mk_exp_nonpositive16(__m512 x) { return mk_exp_softmax16(x, (__mmask16)0xFFFF); }

// Rows of up to 64 scores (every window of the models but Swin-T's 14x14 ones): each row stays in 4 registers
// from the load to the store, and 4 rows go through each step together. One row at a time waited on its own
// chain (maximum, then exponentials, then sum, each reduced across lanes); 4 at a time, one thread, per block
// with bias: 64 rows 2.25 against 2.80 us, 49 rows 1.75 against 3.15, 16 rows 0.20 against 0.36.
#define MK_SOFTMAX_SHORT_MAX 64
#define MK_SOFTMAX_SHORT_BATCH 4
static void mk_attention_softmax_short(float *p, size_t ldp, const float *bias, size_t ldb, const uint8_t *groups,
                                       size_t len) {
    enum { vectors = MK_SOFTMAX_SHORT_MAX / 16 };
    size_t used = (len + 15) / 16;
    __mmask16 lanes[vectors];
    __m512i column_groups[vectors];
    for (size_t v = 0; v < vectors; v++) {
        size_t left = len > 16 * v ? len - 16 * v : 0;
        lanes[v] = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        column_groups[v] = groups ? _mm512_maskz_cvtepu8_epi32(lanes[v], _mm_maskz_loadu_epi8(lanes[v], groups + 16 * v))
                                  : _mm512_setzero_si512();
    }
    const __m512 minus_infinity = _mm512_set1_ps(-INFINITY);
    for (size_t i0 = 0; i0 < len; i0 += MK_SOFTMAX_SHORT_BATCH) {
        size_t batch = len - i0 < MK_SOFTMAX_SHORT_BATCH ? len - i0 : MK_SOFTMAX_SHORT_BATCH;
        __m512 row[MK_SOFTMAX_SHORT_BATCH][vectors];
        float maximum[MK_SOFTMAX_SHORT_BATCH], total[MK_SOFTMAX_SHORT_BATCH];
        for (size_t k = 0; k < batch; k++) {
            size_t i = i0 + k;
            __m512 largest = minus_infinity;
            for (size_t v = 0; v < used; v++) {
                __m512 x = _mm512_mask_loadu_ps(minus_infinity, lanes[v], p + i * ldp + 16 * v);
                if (bias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(lanes[v], bias + i * ldb + 16 * v));
                if (groups) {
                    __mmask16 same = _mm512_cmpeq_epi32_mask(column_groups[v], _mm512_set1_epi32(groups[i]));
                    x = _mm512_mask_mov_ps(minus_infinity, same & lanes[v], x);
                }
                row[k][v] = x;
                largest = _mm512_max_ps(largest, x);
            }
            maximum[k] = _mm512_reduce_max_ps(largest);
        }
        for (size_t k = 0; k < batch; k++) {
            __m512 m = _mm512_set1_ps(maximum[k]), sum = _mm512_setzero_ps();
            for (size_t v = 0; v < used; v++) {
                row[k][v] = mk_exp_softmax16(_mm512_sub_ps(row[k][v], m), lanes[v]);
                sum = _mm512_add_ps(sum, row[k][v]);
            }
            total[k] = _mm512_reduce_add_ps(sum);
        }
        for (size_t k = 0; k < batch; k++) {
            __m512 inverse = _mm512_set1_ps(1.0f / total[k]);
            for (size_t v = 0; v < used; v++)
                _mm512_mask_storeu_ps(p + (i0 + k) * ldp + 16 * v, lanes[v], _mm512_mul_ps(row[k][v], inverse));
        }
    }
}

// Rows of more than 64 scores (Swin-T's 14x14 windows), in three passes: the bias and mask added (the row
// written back) with the maximum, the exponentials and their sum, the scaling. Each pass's whole vectors go through
// a helper with an all-lanes mask the compiler folds away, then the last partial vector with its mask: every store
// masked took 22.5 against 19.1-19.7 us per 196-token block (one thread, with bias); the generic loop, vectorised
// by the compiler, 26.5-27.9.
static inline __attribute__((always_inline)) __m512 mk_softmax_long_prepare(float *pr, const float *br,
                                                                          const uint8_t *groups, __m512i own_group,
                                                                          size_t j, __mmask16 lanes) {
    const __m512 minus_infinity = _mm512_set1_ps(-INFINITY);
    __m512 x = _mm512_mask_loadu_ps(minus_infinity, lanes, pr + j);
    if (br) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(lanes, br + j));
    if (groups) {
        __m512i column_groups = _mm512_maskz_cvtepu8_epi32(lanes, _mm_maskz_loadu_epi8(lanes, groups + j));
        x = _mm512_mask_mov_ps(minus_infinity, _mm512_cmpeq_epi32_mask(column_groups, own_group) & lanes, x);
    }
    if (br || groups) _mm512_mask_storeu_ps(pr + j, lanes, x);
    return x;
}

static inline __attribute__((always_inline)) __m512 mk_softmax_long_exp(float *pr, __m512 maximum, size_t j,
                                                                      __mmask16 lanes) {
    __m512 e = mk_exp_softmax16(_mm512_sub_ps(_mm512_maskz_loadu_ps(lanes, pr + j), maximum), lanes);
    _mm512_mask_storeu_ps(pr + j, lanes, e);
    return e;
}

// `count` (1 or 2, a constant where inlined) rows from row i on, each pass over both rows before the next: a row's
// passes wait on its own chains (the maximum's and the sum's along the row, then their reductions across lanes),
// which a second, independent row fills. Two rows against one, one thread, a C harness running each head's forward
// as the attention op does (16 windows of 196 tokens, 3 heads, best of 20 passes): 15.6 against 18.3 us per head's
// block, the same bits.
static inline __attribute__((always_inline)) void mk_softmax_long_rows(float *p, size_t ldp, const float *bias,
                                                                     size_t ldb, const uint8_t *groups, size_t i,
                                                                     size_t whole, __mmask16 tail, int count) {
    float *pr[2];
    const float *br[2];
    __m512i own_group[2];
    __m512 largest[2], maximum[2], sum[2], inverse[2];
    for (int k = 0; k < count; k++) {
        pr[k] = p + (i + k) * ldp;
        br[k] = bias ? bias + (i + k) * ldb : NULL;
        own_group[k] = _mm512_set1_epi32(groups ? groups[i + k] : 0);
        largest[k] = _mm512_set1_ps(-INFINITY);
    }
    for (size_t j = 0; j < whole; j += 16)
        for (int k = 0; k < count; k++)
            largest[k] =
                _mm512_max_ps(largest[k], mk_softmax_long_prepare(pr[k], br[k], groups, own_group[k], j, 0xFFFF));
    if (tail)
        for (int k = 0; k < count; k++)
            largest[k] =
                _mm512_max_ps(largest[k], mk_softmax_long_prepare(pr[k], br[k], groups, own_group[k], whole, tail));
    for (int k = 0; k < count; k++) {
        maximum[k] = _mm512_set1_ps(_mm512_reduce_max_ps(largest[k]));
        sum[k] = _mm512_setzero_ps();
    }
    for (size_t j = 0; j < whole; j += 16)
        for (int k = 0; k < count; k++)
            sum[k] = _mm512_add_ps(sum[k], mk_softmax_long_exp(pr[k], maximum[k], j, 0xFFFF));
    if (tail)
        for (int k = 0; k < count; k++)
            sum[k] = _mm512_add_ps(sum[k], mk_softmax_long_exp(pr[k], maximum[k], whole, tail));
    for (int k = 0; k < count; k++) inverse[k] = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum[k]));
    for (size_t j = 0; j < whole; j += 16)
        for (int k = 0; k < count; k++)
            _mm512_storeu_ps(pr[k] + j, _mm512_mul_ps(_mm512_loadu_ps(pr[k] + j), inverse[k]));
    if (tail)
        for (int k = 0; k < count; k++)
            _mm512_mask_storeu_ps(pr[k] + whole, tail,
                                  _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, pr[k] + whole), inverse[k]));
}

static void mk_attention_softmax_long(float *p, size_t ldp, const float *bias, size_t ldb, const uint8_t *groups,
                                      size_t len) {
    size_t whole = len / 16 * 16;
    __mmask16 tail = (__mmask16)((1u << (len - whole)) - 1);
    size_t i = 0;
    for (; i + 2 <= len; i += 2) mk_softmax_long_rows(p, ldp, bias, ldb, groups, i, whole, tail, 2);
    if (i < len) mk_softmax_long_rows(p, ldp, bias, ldb, groups, i, whole, tail, 1);
}

// A block of attention scores of any length: the short-row kernel up to 64 tokens, else the long-row one.
static void mk_attention_softmax16(float *p, size_t ldp, const float *bias, size_t ldb, const uint8_t *groups,
                                   size_t len) {
    if (len <= MK_SOFTMAX_SHORT_MAX) mk_attention_softmax_short(p, ldp, bias, ldb, groups, len);
    else mk_attention_softmax_long(p, ldp, bias, ldb, groups, len);
}
#define MK_ATTENTION_SOFTMAX_VECTOR mk_attention_softmax16

// mk_gelu, mk_gelu_backward and mk_gelu_with_slope (kernels_impl.h) on 16 lanes, the tail masked.
// mk_exp_nonpositive16 (above) took mk_gelu from 1.68 to 2.21 G elements/s on one thread (64 Ki floats in cache).
static void mk_gelu16(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 lanes = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 gelu, slope;
        mk_gelu_parts(_mm512_maskz_loadu_ps(lanes, x + i), &gelu, &slope);
        _mm512_mask_storeu_ps(y + i, lanes, gelu);
    }
}

static void mk_gelu_backward16(const float *x, const float *gy, float *gx, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 lanes = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 gelu, slope;
        mk_gelu_parts(_mm512_maskz_loadu_ps(lanes, x + i), &gelu, &slope);
        _mm512_mask_storeu_ps(gx + i, lanes, _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, gy + i), slope));
    }
}

static void mk_gelu_with_slope16(const float *x, float *y, float *slope_out, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 lanes = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 gelu, slope;
        mk_gelu_parts(_mm512_maskz_loadu_ps(lanes, x + i), &gelu, &slope);
        _mm512_mask_storeu_ps(y + i, lanes, gelu);
        _mm512_mask_storeu_ps(slope_out + i, lanes, slope);
    }
}
#define MK_REDUCE_ADD _mm512_reduce_add_ps

// dst[0..<n] = src[0..<n] for n < 16, one masked load and store (mk_strided_copy's short runs).
static inline void mk_copy_first16(float *dst, const float *src, size_t n) {
    __mmask16 lanes = (__mmask16)((1u << n) - 1);
    _mm512_mask_storeu_ps(dst, lanes, _mm512_maskz_loadu_ps(lanes, src));
}
#define MK_COPY_FIRST mk_copy_first16
#define MK_GELU_VECTOR mk_gelu16
#define MK_GELU_BACKWARD_VECTOR mk_gelu_backward16
#define MK_GELU_WITH_SLOPE_VECTOR mk_gelu_with_slope16

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
