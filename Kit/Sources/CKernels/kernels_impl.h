// The bodies of the element-wise, reduction, normalisation and optimizer
// kernels. Not a header of its own: each kernels_<path>.c includes it once,
// compiled for that path's instruction set, so every function here is static
// and reached through that file's kernel table (see dispatch.c).
#include "kernel_ops.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

// Lets the compiler reorder the additions of a sum so that it vectorises (the
// result differs from a left-to-right sum only by rounding). Only in blocks
// that reduce: mk_expf's range reduction must keep its order.
#define MK_REASSOC _Pragma("clang fp reassociate(on)")

// exp for float, Cephes-style range reduction and polynomial (about 1 ulp),
// written with arithmetic only so that loops calling it vectorise. Inputs
// below -87.68 give exactly 0 (2^n underflows; the clamp at -88.38 keeps n in
// range).
static inline float mk_expf(float x) {
    x = fminf(fmaxf(x, -88.3762626647949f), 88.3762626647949f);
    // floor(v) for |v| < 128 by truncation, which vectorises with SSE2 alone
    // (floorf needs SSE4.1's round instruction); the same value on every path.
    float v = x * 1.44269504088896341f + 0.5f;
    float fx = (float)(int32_t)v;
    fx = fx > v ? fx - 1.0f : fx;
    x = x - fx * 0.693359375f - fx * -2.12194440e-4f;
    float z = x * x;
    float y = 1.9875691500E-4f;
    y = y * x + 1.3981999507E-3f;
    y = y * x + 8.3334519073E-3f;
    y = y * x + 4.1665795894E-2f;
    y = y * x + 1.6666665459E-1f;
    y = y * x + 5.0000001201E-1f;
    y = y * z + x + 1.0f;
    int32_t n = ((int32_t)fx + 127) << 23;
    float pow2;
    memcpy(&pow2, &n, sizeof pow2);
    return y * pow2;
}

// erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7), the same
// formula PyTorch's vectorised CPU kernels use.
static inline float mk_erff(float x) {
    float ax = fabsf(x);
    float t = 1.0f / (0.3275911f * ax + 1.0f);
    float r = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
    float y = 1.0f - r * mk_expf(-ax * ax);
    return copysignf(y, x);
}

static void mk_binary(int op, const float *a, ptrdiff_t sa, const float *b, ptrdiff_t sb, float *out, size_t n) {
#define MK_LOOPS(EXPR)                                                   \
    if (sa == 1 && sb == 1) {                                            \
        for (size_t i = 0; i < n; i++) { float x = a[i], y = b[i]; out[i] = (EXPR); } \
    } else if (sa == 1) {                                                \
        float y = b[0];                                                  \
        for (size_t i = 0; i < n; i++) { float x = a[i]; out[i] = (EXPR); } \
    } else if (sb == 1) {                                                \
        float x = a[0];                                                  \
        for (size_t i = 0; i < n; i++) { float y = b[i]; out[i] = (EXPR); } \
    } else {                                                             \
        float x = a[0], y = b[0], v = (EXPR);                            \
        for (size_t i = 0; i < n; i++) out[i] = v;                       \
    }
    switch (op) {
    case MK_ADD: MK_LOOPS(x + y) break;
    case MK_SUB: MK_LOOPS(x - y) break;
    case MK_MUL: MK_LOOPS(x * y) break;
    case MK_DIV: MK_LOOPS(x / y) break;
    case MK_MAX: MK_LOOPS(x >= y ? x : y) break;
    case MK_MIN: MK_LOOPS(x <= y ? x : y) break;
    }
#undef MK_LOOPS
}

static void mk_accumulate(const float *a, ptrdiff_t sa, float *out, size_t n) {
    if (sa == 1) {
        for (size_t i = 0; i < n; i++) out[i] += a[i];
    } else {
        float v = a[0];
        for (size_t i = 0; i < n; i++) out[i] += v;
    }
}

static void mk_affine(const float *x, float a, float b, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a * x[i] + b;
}

static void mk_add_scaled(const float *x, const float *y, float a, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        // Two statements: contraction fuses within one expression only, so the product is rounded first.
        float scaled = a * y[i];
        out[i] = x[i] + scaled;
    }
}

static void mk_unary(int op, const float *x, float *y, size_t n) {
    switch (op) {
    case MK_EXP: for (size_t i = 0; i < n; i++) y[i] = mk_expf(x[i]); break;
    case MK_LOG: for (size_t i = 0; i < n; i++) y[i] = logf(x[i]); break;
    case MK_SQRT: for (size_t i = 0; i < n; i++) y[i] = sqrtf(x[i]); break;
    case MK_TANH: for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]); break;
    case MK_ERF: for (size_t i = 0; i < n; i++) y[i] = mk_erff(x[i]); break;
    case MK_NEG: for (size_t i = 0; i < n; i++) y[i] = -x[i]; break;
    case MK_ABS: for (size_t i = 0; i < n; i++) y[i] = fabsf(x[i]); break;
    case MK_RELU: for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0; break;
    case MK_SIGMOID:
        for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + mk_expf(-x[i]));
        break;
    case MK_RSQRT: for (size_t i = 0; i < n; i++) y[i] = 1.0f / sqrtf(x[i]); break;
    case MK_SQUARE: for (size_t i = 0; i < n; i++) y[i] = x[i] * x[i]; break;
    case MK_RECIP: for (size_t i = 0; i < n; i++) y[i] = 1.0f / x[i]; break;
    }
}

static void mk_pow_scalar(const float *x, float p, float *y, size_t n) {
    if (p == 2.0f) {
        for (size_t i = 0; i < n; i++) y[i] = x[i] * x[i];
    } else if (p == 0.5f) {
        for (size_t i = 0; i < n; i++) y[i] = sqrtf(x[i]);
    } else {
        for (size_t i = 0; i < n; i++) y[i] = powf(x[i], p);
    }
}

// erf(v / sqrt 2) by mk_erff's steps (the same bits as mk_erff(v * 0.7071...)), and in `e` the exponential they
// use, exp(-v^2 / 2), which is also the normal density's: GELU and its derivative from one exponential.
static inline float mk_gelu_erf1(float v, float *e) {
    float a = fabsf(v * 0.70710678118654752f);
    float t = 1.0f / (0.3275911f * a + 1.0f);
    float r = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
    *e = mk_expf(-a * a);
    return copysignf(1.0f - r * *e, v);
}

// GELU's derivative at v, Φ(v) + v φ(v), from mk_gelu_erf1's erf and exponential. mk_gelu_backward and
// mk_gelu_with_slope both use it, so a slope kept from the forward pass is bit for bit the one the backward
// pass would compute.
static inline float mk_gelu_slope1(float v, float erf, float e) {
    float cdf = 0.5f * (1.0f + erf);
    return cdf + v * 0.39894228040143268f * e;
}

// GELU and its derivative; a path with vector versions of them (MK_GELU_VECTOR, MK_GELU_BACKWARD_VECTOR,
// MK_GELU_WITH_SLOPE_VECTOR) runs those instead.
static void mk_gelu(const float *x, float *y, size_t n) {
#ifdef MK_GELU_VECTOR
    MK_GELU_VECTOR(x, y, n);
#else
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + mk_erff(v * 0.70710678118654752f));
    }
#endif
}

static void mk_gelu_backward(const float *x, const float *gy, float *gx, size_t n) {
#ifdef MK_GELU_BACKWARD_VECTOR
    MK_GELU_BACKWARD_VECTOR(x, gy, gx, n);
#else
    for (size_t i = 0; i < n; i++) {
        float e, erf = mk_gelu_erf1(x[i], &e);
        gx[i] = gy[i] * mk_gelu_slope1(x[i], erf, e);
    }
#endif
}

// y = gelu(x) as mk_gelu, and slope = GELU's derivative at x as mk_gelu_backward multiplies by it, in one pass
// (x may be slope itself: each value is read before either is written). A recorded MLP keeps the slope instead of
// fc1's output, and its backward pass multiplies by it instead of computing the derivative.
static void mk_gelu_with_slope(const float *x, float *y, float *slope, size_t n) {
#ifdef MK_GELU_WITH_SLOPE_VECTOR
    MK_GELU_WITH_SLOPE_VECTOR(x, y, slope, n);
#else
    for (size_t i = 0; i < n; i++) {
        float v = x[i], e, erf = mk_gelu_erf1(v, &e);
        y[i] = 0.5f * v * (1.0f + erf);
        slope[i] = mk_gelu_slope1(v, erf, e);
    }
#endif
}

static inline float mk_sum_row(const float *x, size_t n) {
    float acc[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) acc[k] += x[i + k];
    float s = 0;
    for (int k = 0; k < 16; k++) s += acc[k];
    for (; i < n; i++) s += x[i];
    return s;
}

static inline float mk_max_row(const float *x, size_t n) {
    float acc[16];
    for (int k = 0; k < 16; k++) acc[k] = -INFINITY;
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) acc[k] = x[i + k] > acc[k] ? x[i + k] : acc[k];
    float m = -INFINITY;
    for (int k = 0; k < 16; k++) m = acc[k] > m ? acc[k] : m;
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

static void mk_row_sum(const float *x, size_t rows, size_t cols, float *out) {
    for (size_t r = 0; r < rows; r++) out[r] = mk_sum_row(x + r * cols, cols);
}

static void mk_row_max(const float *x, size_t rows, size_t cols, float *out, int32_t *argmax) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        float m = -INFINITY;
        int32_t arg = 0;
        for (size_t i = 0; i < cols; i++) {
            if (row[i] > m || (i == 0)) { m = row[i]; arg = (int32_t)i; }
        }
        out[r] = m;
        if (argmax) argmax[r] = arg;
    }
}

static void mk_col_sum_accumulate(const float *x, size_t rows, size_t cols, float *acc) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        for (size_t j = 0; j < cols; j++) acc[j] += row[j];
    }
}

static double mk_sum_double(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s;
}

static double mk_sum_squares_double(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

static void mk_softmax_rows(const float *x, float *y, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m = mk_max_row(xr, cols);
        for (size_t i = 0; i < cols; i++) yr[i] = mk_expf(xr[i] - m);
        float inv = 1.0f / mk_sum_row(yr, cols);
        for (size_t i = 0; i < cols; i++) yr[i] *= inv;
    }
}

static void mk_log_softmax_rows(const float *x, float *y, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m = mk_max_row(xr, cols);
        for (size_t i = 0; i < cols; i++) yr[i] = mk_expf(xr[i] - m);
        float lse = m + logf(mk_sum_row(yr, cols));
        for (size_t i = 0; i < cols; i++) yr[i] = xr[i] - lse;
    }
}

static void mk_softmax_backward_rows(const float *y, const float *gy, float *gx, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        MK_REASSOC
        const float *yr = y + r * cols, *gr = gy + r * cols;
        float *xr = gx + r * cols;
        float dot = 0;
        for (size_t i = 0; i < cols; i++) dot += yr[i] * gr[i];
        for (size_t i = 0; i < cols; i++) xr[i] = yr[i] * (gr[i] - dot);
    }
}

static void mk_log_softmax_backward_rows(const float *y, const float *gy, float *gx, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        const float *yr = y + r * cols, *gr = gy + r * cols;
        float *xr = gx + r * cols;
        float s = mk_sum_row(gr, cols);
        for (size_t i = 0; i < cols; i++) xr[i] = gr[i] - mk_expf(yr[i]) * s;
    }
}

static void mk_attention_softmax(const float *s, const float *bias, const uint8_t *groups, size_t period,
                          float *p, size_t g0, size_t g1, size_t H, size_t N) {
    for (size_t g = g0; g < g1; g++) {
        const uint8_t *gr = groups ? groups + (g % period) * N : NULL;
        for (size_t h = 0; h < H; h++) {
            for (size_t i = 0; i < N; i++) {
                size_t row = ((g * H + h) * N + i) * N;
                const float *sr = s + row;
                float *pr = p + row;
                const float *br = bias ? bias + (h * N + i) * N : NULL;
                if (br) {
                    for (size_t j = 0; j < N; j++) pr[j] = sr[j] + br[j];
                } else if (pr != sr) {
                    memcpy(pr, sr, N * sizeof(float));
                }
                if (gr) {
                    uint8_t gi = gr[i];
                    for (size_t j = 0; j < N; j++) pr[j] = gr[j] == gi ? pr[j] : -INFINITY;
                }
                float m = mk_max_row(pr, N);
                for (size_t j = 0; j < N; j++) pr[j] = mk_expf(pr[j] - m);
                float inv = 1.0f / mk_sum_row(pr, N);
                for (size_t j = 0; j < N; j++) pr[j] *= inv;
            }
        }
    }
}

static void mk_attention_softmax_backward(const float *p, const float *gp, float *gs, float *gbias,
                                   size_t g0, size_t g1, size_t H, size_t N) {
    for (size_t g = g0; g < g1; g++) {
        for (size_t h = 0; h < H; h++) {
            for (size_t i = 0; i < N; i++) {
                MK_REASSOC
                size_t row = ((g * H + h) * N + i) * N;
                const float *pr = p + row, *gr = gp + row;
                float *sr = gs + row;
                float dot = 0;
                for (size_t j = 0; j < N; j++) dot += pr[j] * gr[j];
                for (size_t j = 0; j < N; j++) sr[j] = pr[j] * (gr[j] - dot);
                if (gbias) {
                    float *br = gbias + (h * N + i) * N;
                    for (size_t j = 0; j < N; j++) br[j] += sr[j];
                }
            }
        }
    }
}

#if defined(MK_GEMM_VW) && defined(MK_REDUCE_ADD)
// mk_layer_norm on a vector path (its MK_GEMM_* macros and MK_REDUCE_ADD, the sum of a vector's lanes): a row's
// sum and sum of squares are each kept in two vector registers (even and odd vectors of the row, two chains of
// additions) and reduced across the lanes once, where the loop below, as compiled, reduced its 16 lane sums one
// float after another; columns past the last whole vector are added one by one. x - mean is computed as
// x + (-mean), the same value. One thread, rows in cache (a C harness calling the kernel 20 times, best run), ns
// per row, against that loop: AVX-512, 32 columns 12.5 against 23.7, 64 15.9 against 27.2, 96 19.7 against 35.0,
// 128 23.9 against 39.4, 256 41.7 against 59.8, 384 59.2 against 92.2, 512 79.5 against 115.4; AVX2, 32 columns
// 11.8 against 23.0, 64 18.1 against 30.7, 128 29.8 against 42.0, 256 61.1 against 80.2, 512 107.8 against 129.4.
// One chain per sum lost on AVX2's wide rows (512 columns 166 ns). Within 2e-6 of a double-precision LayerNorm
// either way.
static void mk_layer_norm_vector(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                                 size_t r0, size_t r1, size_t cols, float eps) {
    size_t full = cols / MK_GEMM_VW * MK_GEMM_VW;
    for (size_t r = r0; r < r1; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        mk_gemm_vec even = MK_GEMM_ZERO(), odd = MK_GEMM_ZERO();
        size_t j = 0;
        for (; j + 2 * MK_GEMM_VW <= full; j += 2 * MK_GEMM_VW) {
            even = MK_GEMM_ADD(even, MK_GEMM_LOAD(xr + j));
            odd = MK_GEMM_ADD(odd, MK_GEMM_LOAD(xr + j + MK_GEMM_VW));
        }
        if (j < full) even = MK_GEMM_ADD(even, MK_GEMM_LOAD(xr + j));
        float sum = MK_REDUCE_ADD(MK_GEMM_ADD(even, odd));
        for (j = full; j < cols; j++) sum += xr[j];
        float mu = sum / (float)cols;
        mk_gemm_vec minus_mean = MK_GEMM_SET1(-mu);
        even = odd = MK_GEMM_ZERO();
        for (j = 0; j + 2 * MK_GEMM_VW <= full; j += 2 * MK_GEMM_VW) {
            mk_gemm_vec d0 = MK_GEMM_ADD(MK_GEMM_LOAD(xr + j), minus_mean);
            mk_gemm_vec d1 = MK_GEMM_ADD(MK_GEMM_LOAD(xr + j + MK_GEMM_VW), minus_mean);
            even = MK_GEMM_FMA(d0, d0, even);
            odd = MK_GEMM_FMA(d1, d1, odd);
        }
        if (j < full) {
            mk_gemm_vec d = MK_GEMM_ADD(MK_GEMM_LOAD(xr + j), minus_mean);
            even = MK_GEMM_FMA(d, d, even);
        }
        float var = MK_REDUCE_ADD(MK_GEMM_ADD(even, odd));
        for (j = full; j < cols; j++) var += (xr[j] - mu) * (xr[j] - mu);
        float rs = 1.0f / sqrtf(var / (float)cols + eps);
        if (mean) mean[r] = mu;
        if (rstd) rstd[r] = rs;
        mk_gemm_vec scale = MK_GEMM_SET1(rs);
        for (j = 0; j < full; j += MK_GEMM_VW) {
            mk_gemm_vec normalised = MK_GEMM_MUL(MK_GEMM_ADD(MK_GEMM_LOAD(xr + j), minus_mean), scale);
            if (w && b) normalised = MK_GEMM_FMA(normalised, MK_GEMM_LOAD(w + j), MK_GEMM_LOAD(b + j));
            MK_GEMM_STORE(yr + j, normalised);
        }
        for (j = full; j < cols; j++) yr[j] = w && b ? (xr[j] - mu) * rs * w[j] + b[j] : (xr[j] - mu) * rs;
    }
}
#endif

// LayerNorm's rows r0..<r1 (mean and 1/std per row, biased variance); a vector path runs mk_layer_norm_vector.
static void mk_layer_norm(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                   size_t r0, size_t r1, size_t cols, float eps) {
#if defined(MK_GEMM_VW) && defined(MK_REDUCE_ADD)
    mk_layer_norm_vector(x, w, b, y, mean, rstd, r0, r1, cols, eps);
#else
    for (size_t r = r0; r < r1; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float mu = mk_sum_row(xr, cols) / (float)cols;
        float acc[16] = {0};
        size_t i = 0;
        for (; i + 16 <= cols; i += 16)
            for (int k = 0; k < 16; k++) { float d = xr[i + k] - mu; acc[k] += d * d; }
        float var = 0;
        for (int k = 0; k < 16; k++) var += acc[k];
        for (; i < cols; i++) { float d = xr[i] - mu; var += d * d; }
        var /= (float)cols;
        float rs = 1.0f / sqrtf(var + eps);
        if (mean) mean[r] = mu;
        if (rstd) rstd[r] = rs;
        if (w && b) {
            for (size_t j = 0; j < cols; j++) yr[j] = (xr[j] - mu) * rs * w[j] + b[j];
        } else {
            for (size_t j = 0; j < cols; j++) yr[j] = (xr[j] - mu) * rs;
        }
    }
#endif
}

static void mk_layer_norm_backward(const float *x, const float *w, const float *mean, const float *rstd,
                                      const float *gy, float *gx, int accumulate, float *gw, float *gb, size_t r0,
                                      size_t r1, size_t cols) {
    for (size_t r = r0; r < r1; r++) {
        const float *restrict xr = x + r * cols, *restrict gr = gy + r * cols;
        float mu = mean[r], rs = rstd[r];
        if (gw) {
            float *restrict gwr = gw;
            for (size_t j = 0; j < cols; j++) gwr[j] += gr[j] * ((xr[j] - mu) * rs);
        }
        if (gb) {
            float *restrict gbr = gb;
            for (size_t j = 0; j < cols; j++) gbr[j] += gr[j];
        }
        if (gx) {
            MK_REASSOC
            float *restrict xo = gx + r * cols;
            float s1 = 0, s2 = 0;
            if (w) {
                for (size_t j = 0; j < cols; j++) {
                    float g = gr[j] * w[j];
                    s1 += g;
                    s2 += g * ((xr[j] - mu) * rs);
                }
            } else {
                for (size_t j = 0; j < cols; j++) {
                    s1 += gr[j];
                    s2 += gr[j] * ((xr[j] - mu) * rs);
                }
            }
            s1 /= (float)cols;
            s2 /= (float)cols;
            // With `accumulate`, gx already holds the input's gradient from its other users (a residual
            // connection's), and this one is added to it as a pass of its own would: the value rounded, then the
            // sum (two statements, so that the compiler does not fuse them into one multiply-add).
            if (w && accumulate) {
                for (size_t j = 0; j < cols; j++) {
                    float v = rs * (gr[j] * w[j] - s1 - (xr[j] - mu) * rs * s2);
                    xo[j] += v;
                }
            } else if (w) {
                for (size_t j = 0; j < cols; j++) xo[j] = rs * (gr[j] * w[j] - s1 - (xr[j] - mu) * rs * s2);
            } else if (accumulate) {
                for (size_t j = 0; j < cols; j++) {
                    float v = rs * (gr[j] - s1 - (xr[j] - mu) * rs * s2);
                    xo[j] += v;
                }
            } else {
                for (size_t j = 0; j < cols; j++) xo[j] = rs * (gr[j] - s1 - (xr[j] - mu) * rs * s2);
            }
        }
    }
}

static void mk_cross_entropy(const float *x, const int64_t *labels, int64_t ignore, float *logp, float *loss,
                      size_t r0, size_t r1, size_t cols) {
    for (size_t r = r0; r < r1; r++) {
        mk_log_softmax_rows(x + r * cols, logp + r * cols, 1, cols);
        int64_t l = labels[r];
        loss[r] = (l == ignore || l < 0 || (size_t)l >= cols) ? 0.0f : -logp[r * cols + (size_t)l];
    }
}

static void mk_cross_entropy_backward(const float *logp, const int64_t *labels, int64_t ignore, float scale,
                               float *gx, size_t r0, size_t r1, size_t cols) {
    for (size_t r = r0; r < r1; r++) {
        const float *lr = logp + r * cols;
        float *gr = gx + r * cols;
        int64_t l = labels[r];
        if (l == ignore || l < 0 || (size_t)l >= cols) {
            memset(gr, 0, cols * sizeof(float));
            continue;
        }
        for (size_t j = 0; j < cols; j++) gr[j] = mk_expf(lr[j]) * scale;
        gr[l] -= scale;
    }
}

static void mk_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
              float eps, float weight_decay, float bias_correction1, float bias_correction2) {
    float decay = 1.0f - lr * weight_decay;
    float step = lr / bias_correction1;
    float sqrt_bc2 = sqrtf(bias_correction2);
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / sqrt_bc2 + eps;
        p[i] = p[i] * decay - step * mi / denom;
    }
}

static void mk_sgd(float *p, const float *g, float *buf, size_t n, float lr, float momentum, float weight_decay,
            int nesterov, int first_step) {
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + weight_decay * p[i];
        if (momentum != 0.0f) {
            float b = first_step ? d : momentum * buf[i] + d;
            buf[i] = b;
            d = nesterov ? d + momentum * b : b;
        }
        p[i] -= lr * d;
    }
}

// The most axes above the last two that mk_strided_copy walks with its odometer.
#define MK_MAX_COPY_RANK 14
// Contiguous runs of at most this many floats are copied with vector moves instead of a call to memcpy.
#define MK_SHORT_RUN 256

// out[0..<n] = x[0..<n]. A permute's innermost runs are often short (the patch embedding's im2col copies runs of
// 4 floats, a patch merging's 32 to 128): with a memcpy call per run, pico64's patch embedding took 326 us per
// call, most of it in the calls.
static inline void mk_copy_run(float *o, const float *x, int64_t n) {
#if defined(MK_GEMM_VW) && defined(MK_COPY_FIRST)
    if (n <= MK_SHORT_RUN) {
        int64_t i = 0;
        for (; i + MK_GEMM_VW <= n; i += MK_GEMM_VW) MK_GEMM_STORE(o + i, MK_GEMM_LOAD(x + i));
        // What is left in 16-byte moves (a patch row of 4 pixels is one: as a masked copy it took 198 against 138
        // us for pico64's patch embedding), the last 1 to 3 floats masked.
        for (; i + 4 <= n; i += 4) memcpy(o + i, x + i, 4 * sizeof(float));
        if (i < n) MK_COPY_FIRST(o + i, x + i, (size_t)(n - i));
        return;
    }
#endif
    memcpy(o, x, (size_t)n * sizeof(float));
}

// The innermost axis of a strided copy: n floats `s` apart in x, contiguous in out.
static inline void mk_copy_axis(float *o, const float *x, int64_t n, int64_t s) {
    if (s == 1) {
        mk_copy_run(o, x, n);
    } else {
        for (int64_t i = 0; i < n; i++) o[i] = x[i * s];
    }
}

// out = the elements of x at shape/stride (row-major order of `shape`, contiguous in out). The axes above the
// last two are walked by an odometer and each step copies a [shape[rank - 2], shape[rank - 1]] block: the
// recursion this replaced made a call per block and per run, which cost more than the copy when the runs are a
// few floats (pico64's patch embedding: blocks of 4 runs of 4 floats).
static void mk_strided_copy(const float *x, const int64_t *shape, const int64_t *stride, int rank, float *out) {
    if (rank == 0) { out[0] = x[0]; return; }
    for (int k = 0; k < rank; k++) if (shape[k] == 0) return;
    if (rank == 1) { mk_copy_axis(out, x, shape[0], stride[0]); return; }
    if (rank - 2 > MK_MAX_COPY_RANK) {
        // More axes than the odometer holds: one copy of the rest per index of the first axis.
        int64_t inner = 1;
        for (int k = 1; k < rank; k++) inner *= shape[k];
        for (int64_t i = 0; i < shape[0]; i++)
            mk_strided_copy(x + i * stride[0], shape + 1, stride + 1, rank - 1, out + i * inner);
        return;
    }
    int64_t rows = shape[rank - 2], n = shape[rank - 1], row_stride = stride[rank - 2], s = stride[rank - 1];
    int outer = rank - 2;
    int64_t index[MK_MAX_COPY_RANK] = {0};
    const float *base = x;
    for (;;) {
        for (int64_t i = 0; i < rows; i++) mk_copy_axis(out + i * n, base + i * row_stride, n, s);
        out += rows * n;
        int k = outer - 1;
        for (; k >= 0; k--) {
            base += stride[k];
            if (++index[k] < shape[k]) break;
            base -= stride[k] * shape[k];
            index[k] = 0;
        }
        if (k < 0) return;
    }
}

// dst = src (n floats). A path with non-temporal stores (MK_STREAM_STORE, MK_STREAM_FENCE) writes whole aligned
// vectors of dst past the cache: the copy neither reads dst's lines in first nor evicts what the caller works on.
static void mk_copy_streaming(float *dst, const float *src, size_t n) {
#ifdef MK_STREAM_STORE
    size_t i = 0;
    for (; i < n && (uintptr_t)(dst + i) % (MK_GEMM_VW * sizeof(float)) != 0; i++) dst[i] = src[i];
    for (; i + MK_GEMM_VW <= n; i += MK_GEMM_VW) MK_STREAM_STORE(dst + i, MK_GEMM_LOAD(src + i));
    for (; i < n; i++) dst[i] = src[i];
    // Orders the streamed stores before the caller's later stores (and so before any hand-off to other threads).
    MK_STREAM_FENCE();
#else
    memcpy(dst, src, n * sizeof(float));
#endif
}

// Chains of multiply-adds with nothing else in the loop: the machine's peak for the path (see CKernels.h). Twelve
// chains cover the latency of a fused multiply-add (4 cycles) on two pipes with room to spare. The multiplier and
// addend come from the caller, so the compiler cannot fold the multiply away.
#define MK_FMA_PEAK_CHAINS 12
static double mk_fma_peak(long steps, float multiplier, float addend, float *sum) {
#ifdef MK_GEMM_VW
    mk_gemm_vec acc[MK_FMA_PEAK_CHAINS], m = MK_GEMM_SET1(multiplier), a = MK_GEMM_SET1(addend);
    for (int c = 0; c < MK_FMA_PEAK_CHAINS; c++) acc[c] = MK_GEMM_ZERO();
    for (long s = 0; s < steps; s++)
#pragma clang loop unroll(full)
        for (int c = 0; c < MK_FMA_PEAK_CHAINS; c++) acc[c] = MK_GEMM_FMA(acc[c], m, a);
    float lanes[MK_GEMM_VW];
    float total = 0;
    for (int c = 0; c < MK_FMA_PEAK_CHAINS; c++) {
        MK_GEMM_STORE(lanes, acc[c]);
        for (int l = 0; l < MK_GEMM_VW; l++) total += lanes[l];
    }
    *sum = total;
    return 2.0 * MK_FMA_PEAK_CHAINS * MK_GEMM_VW * (double)steps;
#else
    // Four-float vectors of the compiler's (SSE on x86-64): a multiply and an add where there is no FMA.
    enum { width = 4 };
    typedef float mk_float4 __attribute__((vector_size(16)));
    mk_float4 acc[MK_FMA_PEAK_CHAINS], m = {multiplier, multiplier, multiplier, multiplier};
    mk_float4 a = {addend, addend, addend, addend};
    for (int c = 0; c < MK_FMA_PEAK_CHAINS; c++) acc[c] = (mk_float4){0, 0, 0, 0};
    for (long s = 0; s < steps; s++)
        for (int c = 0; c < MK_FMA_PEAK_CHAINS; c++) acc[c] = acc[c] * m + a;
    float total = 0;
    for (int c = 0; c < MK_FMA_PEAK_CHAINS; c++)
        for (int l = 0; l < width; l++) total += acc[c][l];
    *sum = total;
    return 2.0 * MK_FMA_PEAK_CHAINS * width * (double)steps;
#endif
}

static void mk_attention_softmax_block(float *p, size_t ldp, const float *bias, size_t ldb, const uint8_t *groups,
                                       size_t len) {
#ifdef MK_ATTENTION_SOFTMAX_VECTOR
    // A path's own kernel (kernels_avx2.c, kernels_avx512.c); the loop below is the portable path's.
    MK_ATTENTION_SOFTMAX_VECTOR(p, ldp, bias, ldb, groups, len);
#else
    for (size_t i = 0; i < len; i++) {
        float *restrict pr = p + i * ldp;
        if (bias) {
            const float *restrict br = bias + i * ldb;
            for (size_t j = 0; j < len; j++) pr[j] += br[j];
        }
        if (groups) {
            uint8_t gi = groups[i];
            for (size_t j = 0; j < len; j++) pr[j] = groups[j] == gi ? pr[j] : -INFINITY;
        }
        float m = mk_max_row(pr, len);
        // The exponentials and their sum in one pass: 3.2 against 4.3 us per 64x64 block with bias (one thread).
        float sum = 0;
        {
            MK_REASSOC
            for (size_t j = 0; j < len; j++) {
                float e = mk_expf(pr[j] - m);
                pr[j] = e;
                sum += e;
            }
        }
        float inv = 1.0f / sum;
        for (size_t j = 0; j < len; j++) pr[j] *= inv;
    }
#endif
}

#if defined(MK_GEMM_VW) && defined(MK_REDUCE_ADD)
// mk_attention_softmax_block_backward on a vector path: each row's dot product in two vector registers (even and
// odd vectors), reduced across the lanes once, then the row's gradient and its bias-gradient sum, vector by vector;
// columns past the last whole vector one by one. Against the portable loops below as the compiler vectorised them
// for this path, one thread, a head's backward at a time as the attention op runs them (a C harness, 16 windows of
// 3 heads, best of 15 passes), us per head: AVX-512 196 tokens 9.9 against 12.2, 64 tokens 0.72 against 0.95, 49
// tokens 0.61 against 0.76; AVX2 8.7 against 10.2, 0.72 against 0.86, 0.59 against 0.81.
static void mk_attention_softmax_block_backward_vector(const float *p, float *g, size_t ld, float *gbias,
                                                       size_t ldb, size_t len) {
    size_t full = len / MK_GEMM_VW * MK_GEMM_VW;
    for (size_t i = 0; i < len; i++) {
        const float *restrict pr = p + i * ld;
        float *restrict gr = g + i * ld;
        float *restrict br = gbias ? gbias + i * ldb : NULL;
        mk_gemm_vec even = MK_GEMM_ZERO(), odd = MK_GEMM_ZERO();
        size_t j = 0;
        for (; j + 2 * MK_GEMM_VW <= full; j += 2 * MK_GEMM_VW) {
            even = MK_GEMM_FMA(MK_GEMM_LOAD(pr + j), MK_GEMM_LOAD(gr + j), even);
            odd = MK_GEMM_FMA(MK_GEMM_LOAD(pr + j + MK_GEMM_VW), MK_GEMM_LOAD(gr + j + MK_GEMM_VW), odd);
        }
        if (j < full) even = MK_GEMM_FMA(MK_GEMM_LOAD(pr + j), MK_GEMM_LOAD(gr + j), even);
        float dot = MK_REDUCE_ADD(MK_GEMM_ADD(even, odd));
        for (j = full; j < len; j++) dot += pr[j] * gr[j];
        // g - dot as g + (-dot): the same value.
        mk_gemm_vec minus_dot = MK_GEMM_SET1(-dot);
        for (j = 0; j < full; j += MK_GEMM_VW) {
            mk_gemm_vec v = MK_GEMM_MUL(MK_GEMM_LOAD(pr + j), MK_GEMM_ADD(MK_GEMM_LOAD(gr + j), minus_dot));
            MK_GEMM_STORE(gr + j, v);
            if (br) MK_GEMM_STORE(br + j, MK_GEMM_ADD(MK_GEMM_LOAD(br + j), v));
        }
        for (j = full; j < len; j++) {
            gr[j] = pr[j] * (gr[j] - dot);
            if (br) br[j] += gr[j];
        }
    }
}
#endif

static void mk_attention_softmax_block_backward(const float *p, float *g, size_t ld, float *gbias, size_t ldb,
                                                size_t len) {
#if defined(MK_GEMM_VW) && defined(MK_REDUCE_ADD)
    mk_attention_softmax_block_backward_vector(p, g, ld, gbias, ldb, len);
#else
    for (size_t i = 0; i < len; i++) {
        const float *pr = p + i * ld;
        float *gr = g + i * ld;
        float acc[8] = {0};
        size_t j = 0;
        for (; j + 8 <= len; j += 8)
            for (int k = 0; k < 8; k++) acc[k] += pr[j + k] * gr[j + k];
        float dot = 0;
        for (int k = 0; k < 8; k++) dot += acc[k];
        for (; j < len; j++) dot += pr[j] * gr[j];
        for (j = 0; j < len; j++) gr[j] = pr[j] * (gr[j] - dot);
        if (gbias) {
            float *br = gbias + i * ldb;
            for (j = 0; j < len; j++) br[j] += gr[j];
        }
    }
#endif
}
