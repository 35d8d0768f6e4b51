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
// The micro-kernel's reduction loop unrolled (gemm_impl.h says why only here).
#define MK_GEMM_K_UNROLL 4
typedef __m256 mk_gemm_vec;
#define MK_GEMM_LOAD(p) _mm256_loadu_ps(p)
#define MK_GEMM_STORE(p, v) _mm256_storeu_ps(p, v)
// The first n (< MK_GEMM_VW) floats of v (mk_store_tail8 below).
#define MK_GEMM_STORE_FIRST(p, v, n) mk_store_tail8(p, v, n)
#define MK_GEMM_SET1(x) _mm256_set1_ps(x)
#define MK_GEMM_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define MK_GEMM_MUL(a, b) _mm256_mul_ps(a, b)
// c - a b, rounded once.
#define MK_GEMM_FNMADD(a, b, c) _mm256_fnmadd_ps(a, b, c)
#define MK_GEMM_ADD(a, b) _mm256_add_ps(a, b)
#define MK_GEMM_DIV(a, b) _mm256_div_ps(a, b)
#define MK_GEMM_AND(a, b) _mm256_and_ps(a, b)
#define MK_GEMM_ANDNOT(a, b) _mm256_andnot_ps(a, b)
#define MK_GEMM_OR(a, b) _mm256_or_ps(a, b)
#define MK_GEMM_XOR(a, b) _mm256_xor_ps(a, b)
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

#define MK_EXP_NONPOSITIVE_GROUP mk_exp_nonpositive8_group
#include "vector_math.h"

// e^x for x <= 0 (GELU's Gaussian factors, a softmax's exponentials) of `count` (at most MK_VECTOR_GROUP_MAX)
// vectors of 8 lanes, in place, one step at a time for all of them (vector_math.h): mk_expf's range reduction,
// polynomial and power of two (2^n built in the exponent bits, 0 below -87.68 as mk_expf gives), its floor by one
// rounding instruction.
static inline __attribute__((always_inline)) void mk_exp_nonpositive8_group(__m256 *x, int count) {
    __m256 fx[MK_VECTOR_GROUP_MAX], y[MK_VECTOR_GROUP_MAX];
    for (int u = 0; u < count; u++) x[u] = _mm256_max_ps(x[u], _mm256_set1_ps(-88.3762626647949f));
    for (int u = 0; u < count; u++)
        fx[u] = _mm256_floor_ps(_mm256_fmadd_ps(x[u], _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    mk_exp_reduced_group(x, fx, y, count);
    for (int u = 0; u < count; u++) {
        __m256i n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx[u]), _mm256_set1_epi32(127)), 23);
        x[u] = _mm256_mul_ps(y[u], _mm256_castsi256_ps(n));
    }
}

// Tails, the last n (< 8) floats of a row: loaded by a masked load, the other lanes `fill` (a masked load costs
// what a load does on AMD's cores), stored one float at a time from the vector written to the stack (a masked
// store is microcoded there: with every store of GELU's epilogue masked, it ran at half the speed). A memcpy of the
// n floats each way through the stack, the first version, cost the softmax below more than its whole vectors (Zen 4
// with AVX-512 hidden, 196 tokens, 34.9 against 25.4 us per block).
static inline __m256 mk_load_tail8_filled(const float *p, size_t n, float fill) {
    __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, lanes), _mm256_castsi256_ps(lanes));
}

static inline __m256 mk_load_tail8(const float *p, size_t n) { return mk_load_tail8_filled(p, n, 0); }

static inline void mk_store_tail8(float *p, __m256 v, size_t n) {
    float lanes[8];
    _mm256_storeu_ps(lanes, v);
    for (size_t k = 0; k < n; k++) p[k] = lanes[k];
}

// mk_gelu, mk_gelu_backward and mk_gelu_with_slope (kernels_impl.h) on 8 lanes, two vectors at a time
// (mk_gelu_parts_group; see vector_math.h), then one, then a tail. The scalar loops they replace did not vectorise:
// with GELU's epilogue, small128's first-stage fc1 (16384 x 256 x 64) ran 30 GFLOP/s on this path against 212
// without it (`mixmae bench ops`' step table, two Zen 4 cores). The three stay separate loops: one inlined pass with
// constant-null output pointers gave the same bits but ran mk_gelu_with_slope in 40.5-40.6 against 37.8 us and
// mk_gelu_backward in 38.4-38.5 against 36.8-36.9 (Zen 1, one thread, 16 Ki floats, four runs each).
static void mk_gelu8(const float *x, float *y, size_t n) {
    __m256 v[2], gelu[2], slope[2];
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v[0] = _mm256_loadu_ps(x + i), v[1] = _mm256_loadu_ps(x + i + 8);
        mk_gelu_parts_group(v, gelu, slope, 2);
        _mm256_storeu_ps(y + i, gelu[0]), _mm256_storeu_ps(y + i + 8, gelu[1]);
    }
    for (; i + 8 <= n; i += 8) {
        mk_gelu_parts(_mm256_loadu_ps(x + i), gelu, slope);
        _mm256_storeu_ps(y + i, gelu[0]);
    }
    if (i == n) return;
    mk_gelu_parts(mk_load_tail8(x + i, n - i), gelu, slope);
    mk_store_tail8(y + i, gelu[0], n - i);
}

static void mk_gelu_backward8(const float *x, const float *gy, float *gx, size_t n) {
    __m256 v[2], gelu[2], slope[2];
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v[0] = _mm256_loadu_ps(x + i), v[1] = _mm256_loadu_ps(x + i + 8);
        mk_gelu_parts_group(v, gelu, slope, 2);
        _mm256_storeu_ps(gx + i, _mm256_mul_ps(_mm256_loadu_ps(gy + i), slope[0]));
        _mm256_storeu_ps(gx + i + 8, _mm256_mul_ps(_mm256_loadu_ps(gy + i + 8), slope[1]));
    }
    for (; i + 8 <= n; i += 8) {
        mk_gelu_parts(_mm256_loadu_ps(x + i), gelu, slope);
        _mm256_storeu_ps(gx + i, _mm256_mul_ps(_mm256_loadu_ps(gy + i), slope[0]));
    }
    if (i == n) return;
    mk_gelu_parts(mk_load_tail8(x + i, n - i), gelu, slope);
    mk_store_tail8(gx + i, _mm256_mul_ps(mk_load_tail8(gy + i, n - i), slope[0]), n - i);
}

// x may be slope_out itself (see mk_gelu_with_slope): each group is loaded before any of its stores.
static void mk_gelu_with_slope8(const float *x, float *y, float *slope_out, size_t n) {
    __m256 v[2], gelu[2], slope[2];
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v[0] = _mm256_loadu_ps(x + i), v[1] = _mm256_loadu_ps(x + i + 8);
        mk_gelu_parts_group(v, gelu, slope, 2);
        _mm256_storeu_ps(y + i, gelu[0]), _mm256_storeu_ps(y + i + 8, gelu[1]);
        _mm256_storeu_ps(slope_out + i, slope[0]), _mm256_storeu_ps(slope_out + i + 8, slope[1]);
    }
    for (; i + 8 <= n; i += 8) {
        mk_gelu_parts(_mm256_loadu_ps(x + i), gelu, slope);
        _mm256_storeu_ps(y + i, gelu[0]);
        _mm256_storeu_ps(slope_out + i, slope[0]);
    }
    if (i == n) return;
    mk_gelu_parts(mk_load_tail8(x + i, n - i), gelu, slope);
    mk_store_tail8(y + i, gelu[0], n - i);
    mk_store_tail8(slope_out + i, slope[0], n - i);
}

// A row of attention scores of any length in three passes: the bias and mask added (the row written back) with the
// maximum, the exponentials and their sum, the scaling; tails padded with -inf (whose exponential is 0). Against
// the generic loops (mk_expf vectorised by the compiler), Zen 4 with AVX-512 hidden (MIXMAE_CPU_HIDE=avx512f), one
// thread, a block with bias, us: 196 tokens 21.3 against
// 25.3, 64 tokens 2.3 against 3.1, 49 tokens 2.1 against 3.2, 16 tokens 0.25 against 0.75; 33 tokens (a tail of
// one) 1.32 against 1.21. The exponentials are mk_exp_nonpositive8_group's: mk_expf's values exactly (0 below -87.68).
static inline __attribute__((always_inline)) __m256 mk_softmax_prepare8(__m256 x, const float *br,
                                                                     const uint8_t *groups, __m256i own_group,
                                                                     size_t j, size_t n) {
    if (br) x = _mm256_add_ps(x, n == 8 ? _mm256_loadu_ps(br + j) : mk_load_tail8(br + j, n));
    if (groups) {
        uint8_t ids[8] = {0};
        for (size_t k = 0; k < n; k++) ids[k] = groups[j + k];
        __m256i column_groups = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)ids));
        __m256 same = _mm256_castsi256_ps(_mm256_cmpeq_epi32(column_groups, own_group));
        x = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), x, same);
    }
    return x;
}

// The largest of 8 lanes, and their sum (halves, then quarters, then pairs).
static inline float mk_reduce_max8(__m256 v) {
    __m128 half = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    half = _mm_max_ps(half, _mm_movehl_ps(half, half));
    return _mm_cvtss_f32(_mm_max_ss(half, _mm_movehdup_ps(half)));
}

static inline float mk_reduce_add8(__m256 v) {
    __m128 half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    half = _mm_add_ps(half, _mm_movehl_ps(half, half));
    return _mm_cvtss_f32(_mm_add_ss(half, _mm_movehdup_ps(half)));
}

// `count` (1 or 2, a constant at each call) rows of a block through the three passes above, each pass for both
// rows at once: a row's ends (its maximum's and sum's reductions, its tail's exponential, the division) are chains
// of dependent instructions, which the other row's work fills. Each row gets the operations, in the order, that
// it gets alone: the same bits. Zen 1, one thread, a block with bias in cache, best of 900 calls, us, one row at a
// time against two: 196 tokens 63.7-64.2 against 58.9-59.0, 64 tokens 6.1 against 5.7, 49 tokens 6.9 against 5.6;
// four rows at a time measured as two (59.0-60.6, 5.7-6.1, 5.5-6.8).
static inline __attribute__((always_inline)) void mk_attention_softmax8_rows(float *p, size_t ldp, const float *bias,
                                                                          size_t ldb, const uint8_t *groups,
                                                                          size_t len, size_t first, int count) {
    size_t whole = len / 8 * 8, tail = len - whole;
    float *pr[2];
    const float *br[2];
    __m256i own_group[2];
    __m256 largest[2], maximum[2], sum[2];
    for (int r = 0; r < count; r++) {
        pr[r] = p + (first + r) * ldp;
        br[r] = bias ? bias + (first + r) * ldb : NULL;
        own_group[r] = _mm256_set1_epi32(groups ? groups[first + r] : 0);
        largest[r] = _mm256_set1_ps(-INFINITY);
    }
    for (size_t j = 0; j < whole; j += 8) {
        for (int r = 0; r < count; r++) {
            __m256 x = mk_softmax_prepare8(_mm256_loadu_ps(pr[r] + j), br[r], groups, own_group[r], j, 8);
            if (bias || groups) _mm256_storeu_ps(pr[r] + j, x);
            largest[r] = _mm256_max_ps(largest[r], x);
        }
    }
    if (tail) {
        for (int r = 0; r < count; r++) {
            __m256 x = mk_softmax_prepare8(mk_load_tail8_filled(pr[r] + whole, tail, -INFINITY), br[r], groups,
                                           own_group[r], whole, tail);
            if (bias || groups) mk_store_tail8(pr[r] + whole, x, tail);
            largest[r] = _mm256_max_ps(largest[r], x);
        }
    }
    for (int r = 0; r < count; r++) {
        maximum[r] = _mm256_set1_ps(mk_reduce_max8(largest[r]));
        sum[r] = _mm256_setzero_ps();
    }
    // MK_VECTOR_GROUP_MAX exponentials at a time (vector_math.h), split between the rows, each added to its row's
    // sum in the order one at a time adds them.
    const int per_row = MK_VECTOR_GROUP_MAX / count;
    size_t j = 0;
    for (; j + 8 * per_row <= whole; j += 8 * per_row) {
        __m256 e[MK_VECTOR_GROUP_MAX];
        for (int r = 0; r < count; r++)
            for (int u = 0; u < per_row; u++)
                e[r * per_row + u] = _mm256_sub_ps(_mm256_loadu_ps(pr[r] + j + 8 * u), maximum[r]);
        mk_exp_nonpositive8_group(e, per_row * count);
        for (int r = 0; r < count; r++)
            for (int u = 0; u < per_row; u++) {
                _mm256_storeu_ps(pr[r] + j + 8 * u, e[r * per_row + u]);
                sum[r] = _mm256_add_ps(sum[r], e[r * per_row + u]);
            }
    }
    for (; j < whole; j += 8) {
        __m256 e[2];
        for (int r = 0; r < count; r++) e[r] = _mm256_sub_ps(_mm256_loadu_ps(pr[r] + j), maximum[r]);
        mk_exp_nonpositive8_group(e, count);
        for (int r = 0; r < count; r++) {
            _mm256_storeu_ps(pr[r] + j, e[r]);
            sum[r] = _mm256_add_ps(sum[r], e[r]);
        }
    }
    if (tail) {
        __m256 e[2];
        for (int r = 0; r < count; r++)
            e[r] = _mm256_sub_ps(mk_load_tail8_filled(pr[r] + whole, tail, -INFINITY), maximum[r]);
        mk_exp_nonpositive8_group(e, count);
        for (int r = 0; r < count; r++) {
            mk_store_tail8(pr[r] + whole, e[r], tail);
            sum[r] = _mm256_add_ps(sum[r], e[r]);
        }
    }
    __m256 inverse[2];
    for (int r = 0; r < count; r++) inverse[r] = _mm256_set1_ps(1.0f / mk_reduce_add8(sum[r]));
    for (size_t j = 0; j < whole; j += 8)
        for (int r = 0; r < count; r++)
            _mm256_storeu_ps(pr[r] + j, _mm256_mul_ps(_mm256_loadu_ps(pr[r] + j), inverse[r]));
    if (tail)
        for (int r = 0; r < count; r++)
            mk_store_tail8(pr[r] + whole, _mm256_mul_ps(mk_load_tail8(pr[r] + whole, tail), inverse[r]), tail);
}

static void mk_attention_softmax8(float *p, size_t ldp, const float *bias, size_t ldb, const uint8_t *groups,
                                  size_t len) {
    size_t i = 0;
    for (; i + 2 <= len; i += 2) mk_attention_softmax8_rows(p, ldp, bias, ldb, groups, len, i, 2);
    if (i < len) mk_attention_softmax8_rows(p, ldp, bias, ldb, groups, len, i, 1);
}
#define MK_ATTENTION_SOFTMAX_VECTOR mk_attention_softmax8
#define MK_REDUCE_ADD mk_reduce_add8

// dst[0..<n] = src[0..<n] for n < 8, one masked load and store (mk_strided_copy's short runs).
static inline void mk_copy_first8(float *dst, const float *src, size_t n) {
    __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_maskstore_ps(dst, lanes, _mm256_maskload_ps(src, lanes));
}
#define MK_COPY_FIRST mk_copy_first8
#define MK_GELU_VECTOR mk_gelu8
#define MK_GELU_BACKWARD_VECTOR mk_gelu_backward8
#define MK_GELU_WITH_SLOPE_VECTOR mk_gelu_with_slope8

#include "kernels_impl.h"
#include "dense_impl.h"
#include "gemm_impl.h"
// Attention's per-head products: 6 rows x 2 vectors, as the GEMM micro-kernel: 12 of the 16 vector registers hold
// the block, 3 more the operands.
#define MK_ATTENTION_ROWS 6
#define MK_ATTENTION_BLOCK_VECTORS 2
#include "attention_impl.h"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

MK_DEFINE_KERNEL_TABLE(mk_kernels_avx2)
#endif
