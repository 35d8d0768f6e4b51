#ifndef MIXKIT_CKERNELS_H
#define MIXKIT_CKERNELS_H
// Hot loops of MixKit, in C so that clang vectorises them. Every function
// works on a contiguous range the caller chose; threading is the caller's.
//
// Each function is compiled for three instruction sets (portable x86-64 or
// any other CPU, AVX2+FMA, AVX-512) and dispatched at run time to the one
// chosen at start: see cpu_dispatch.h.
#include <stddef.h>
#include <stdint.h>

#include "blas_core.h"
#include "cpu_dispatch.h"
#include "gemm_epilogue.h"
#include "kernel_ops.h"
#include "prefetch.h"
#include "thread_pool.h"

// out[i] = a[i*sa] op b[i*sb] for i < n; sa and sb are 0 or 1; op one of MK_ADD ... MK_MIN.
void mk_binary(int op, const float *a, ptrdiff_t sa, const float *b, ptrdiff_t sb, float *out, size_t n);
// out[i] += a[i*sa] for i < n (sa 0 or 1).
void mk_accumulate(const float *a, ptrdiff_t sa, float *out, size_t n);
// y = a*x + b, element-wise with scalars.
void mk_affine(const float *x, float a, float b, float *y, size_t n);
// out = x + (a*y), element-wise: the product rounded before the sum (no fused multiply-add), as the two ops.
void mk_add_scaled(const float *x, const float *y, float a, float *out, size_t n);

// op: one of MK_EXP ... MK_RECIP (kernel_ops.h).
void mk_unary(int op, const float *x, float *y, size_t n);
void mk_pow_scalar(const float *x, float p, float *y, size_t n);

// GELU, exact erf form, and its backward: gx = gy * gelu'(x).
void mk_gelu(const float *x, float *y, size_t n);
void mk_gelu_backward(const float *x, const float *gy, float *gx, size_t n);

// Sums and extrema of contiguous rows: out[r] = reduce(x[r*cols ..< (r+1)*cols]).
void mk_row_sum(const float *x, size_t rows, size_t cols, float *out);
void mk_row_max(const float *x, size_t rows, size_t cols, float *out, int32_t *argmax);
// acc[j] += sum_r x[r*cols + j]  (column sums over a block of rows).
void mk_col_sum_accumulate(const float *x, size_t rows, size_t cols, float *acc);
double mk_sum_double(const float *x, size_t n);
double mk_sum_squares_double(const float *x, size_t n);

// Softmax / log-softmax over contiguous rows, and their backward.
void mk_softmax_rows(const float *x, float *y, size_t rows, size_t cols);
void mk_log_softmax_rows(const float *x, float *y, size_t rows, size_t cols);
void mk_softmax_backward_rows(const float *y, const float *gy, float *gx, size_t rows, size_t cols);
void mk_log_softmax_backward_rows(const float *y, const float *gy, float *gx, size_t rows, size_t cols);

// Attention softmax over the last axis of scores [G, H, N, N] for g in [g0, g1):
// p = softmax(s + bias[h] - inf * (groups[g % period][i] != groups[g % period][j])).
// bias [H, N, N] and groups [period, N] may be NULL. s and p may alias.
void mk_attention_softmax(const float *s, const float *bias, const uint8_t *groups, size_t period,
                          float *p, size_t g0, size_t g1, size_t H, size_t N);
// gs = p * (gp - sum_j gp*p) for g in [g0, g1); gbias[h] += sum_g gs[g, h] when gbias != NULL.
void mk_attention_softmax_backward(const float *p, const float *gp, float *gs, float *gbias,
                                   size_t g0, size_t g1, size_t H, size_t N);

// dst = src (n floats, not overlapping), written past the cache where the CPU can (non-temporal stores): for a
// result read much later, such as attention probabilities kept for the backward pass.
void mk_copy_streaming(float *dst, const float *src, size_t n);

// The multiply-add rate the path's instructions allow: 12 independent chains of acc = acc * multiplier + addend
// (one vector of the path each; the portable path: 4 floats) run `steps` steps from 0 on the calling thread.
// Returns the floating-point operations done (2 per multiply-add of a lane) and writes the sum of every lane
// of every chain to `sum` (with multiplier 1 and addend 1: 12 * lanes * steps, exact below 2^24 steps).
double mk_fma_peak(long steps, float multiplier, float addend, float *sum);

// One attention head's scores [len, len] (rows of ldp floats), in place:
// p = softmax(p + bias - inf * (groups[i] != groups[j])) row by row; bias (rows of ldb floats) and groups [len]
// may be NULL. The run of tokens of a window's group sorted together reads the bias block at (start, start).
void mk_attention_softmax_block(float *p, size_t ldp, const float *bias, size_t ldb, const uint8_t *groups,
                                size_t len);
// Its backward, in place: g = p * (g - sum_j g*p) row by row (p and g rows of ld floats); gbias (rows of ldb
// floats) += g when not NULL.
void mk_attention_softmax_block_backward(const float *p, float *g, size_t ld, float *gbias, size_t ldb, size_t len);

// LayerNorm over the last axis for rows [r0, r1). mean/rstd are per row (saved for backward).
void mk_layer_norm(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                   size_t r0, size_t r1, size_t cols, float eps);
// Backward for rows [r0, r1): writes gx (if not NULL; adds into it with `accumulate`); adds into gw and gb (if not
// NULL).
void mk_layer_norm_backward(const float *x, const float *w, const float *mean, const float *rstd,
                            const float *gy, float *gx, int accumulate, float *gw, float *gb, size_t r0, size_t r1,
                            size_t cols);

// Cross-entropy with integer labels over rows of logits [rows, cols], rows [r0, r1):
// loss[r] = -log_softmax(x[r])[label[r]] (0 where label == ignore); logp saved.
void mk_cross_entropy(const float *x, const int64_t *labels, int64_t ignore, float *logp, float *loss,
                      size_t r0, size_t r1, size_t cols);
// gx[r] = (softmax(x[r]) - onehot(label)) * scale[r]; 0 for ignored rows.
void mk_cross_entropy_backward(const float *logp, const int64_t *labels, int64_t ignore, float scale,
                               float *gx, size_t r0, size_t r1, size_t cols);

// One AdamW step over n elements (decoupled weight decay, PyTorch's formula).
void mk_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
              float eps, float weight_decay, float bias_correction1, float bias_correction2);
// One SGD step with momentum (PyTorch's formula, dampening 0, optional Nesterov).
void mk_sgd(float *p, const float *g, float *buf, size_t n, float lr, float momentum, float weight_decay,
            int nesterov, int first_step);

// Copies a strided view into contiguous out: out[...] = x[sum idx_k * stride_k].
// shape/stride have rank entries; the innermost stride may be anything.
void mk_strided_copy(const float *x, const int64_t *shape, const int64_t *stride, int rank, float *out);

// C = alpha op(A) op(B) + bias + beta C on row-major matrices (op transposes when ta / tb is 1; A is m x k after
// op, B k x n, leading dimensions lda, ldb, ldc; bias has n values, added to every row, or is NULL), on the calling
// thread; C is not read when beta is 0. The avx2 and avx512 paths run MixKit's own cache-blocked kernel and
// return 1, except for a transposed B with fewer than 128 rows of C (OpenBLAS is faster there); the portable path,
// and those products, return 0 without touching C, and the caller then uses the BLAS.
int mk_sgemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda, const float *b,
             size_t ldb, float beta, float *c, size_t ldc, const float *bias);
// mk_sgemm, then `epilogue` (gemm_epilogue.h) on each block of C as soon as it is complete. Returns 0 without
// touching C where mk_sgemm would; the caller then runs the BLAS and mk_gemm_apply_epilogue on the whole of C.
int mk_sgemm_epilogue(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                      const float *b, size_t ldb, float beta, float *c, size_t ldc, const float *bias,
                      const mk_gemm_epilogue *epilogue);
// `epilogue` on the m x n matrix c (rows ldc apart), in one pass: what mk_sgemm_epilogue does block by block.
void mk_gemm_apply_epilogue(const mk_gemm_epilogue *epilogue, float *c, size_t ldc, size_t m, size_t n);

// Attention's products for one head of one window (or one run of a masked window) whose head dimension is
// MK_ATTENTION_HEAD_DIM (32), on the calling thread. mk_attention_scores: s[len x len] (rows lds apart) = alpha a bᵀ,
// where a and b are [len x 32] with rows lda and ldb apart; `scratch` holds 32 x round_up(len, 32) floats.
// mk_attention_apply: out[len x 32] (rows ldo apart) = alpha op(p) v, where p is [len x len] (rows ldp apart), op(p)
// is p or, when transpose_p is 1, pᵀ, and v is [len x 32] with rows ldv apart. The avx2 and avx512 paths return 1;
// the portable path returns 0 without touching the output, and the caller then uses the BLAS.
int mk_attention_scores(const float *a, size_t lda, const float *b, size_t ldb, size_t len, float alpha, float *s,
                        size_t lds, float *scratch);
int mk_attention_apply(const float *p, size_t ldp, int transpose_p, const float *v, size_t ldv, size_t len,
                       float alpha, float *out, size_t ldo);

// Dense-prediction kernels (convolution, group norm, resampling, detection losses).
#include "dense_kernels.h"

#endif
