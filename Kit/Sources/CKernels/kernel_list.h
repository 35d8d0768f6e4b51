#ifndef MIXKIT_KERNEL_LIST_H
#define MIXKIT_KERNEL_LIST_H
// Every dispatched kernel, once: X(return type, name, (parameters), (arguments)).
// It generates the kernel table's fields (kernel_table.h), each path's table
// (kernels_<path>.c) and the public functions that call through the active
// table (dispatch.c). A new kernel goes in include/CKernels.h (or
// dense_kernels.h), as a static function in kernels_impl.h (or dense_impl.h),
// and here.
#include <stddef.h>
#include <stdint.h>
#include "gemm_epilogue.h"

#define MK_KERNELS(X) \
    X(void, mk_binary, (int op, const float *a, ptrdiff_t sa, const float *b, ptrdiff_t sb, float *out, size_t n), (op, a, sa, b, sb, out, n)) \
    X(void, mk_accumulate, (const float *a, ptrdiff_t sa, float *out, size_t n), (a, sa, out, n)) \
    X(void, mk_affine, (const float *x, float a, float b, float *y, size_t n), (x, a, b, y, n)) \
    X(void, mk_add_scaled, (const float *x, const float *y, float a, float *out, size_t n), (x, y, a, out, n)) \
    X(void, mk_unary, (int op, const float *x, float *y, size_t n), (op, x, y, n)) \
    X(void, mk_pow_scalar, (const float *x, float p, float *y, size_t n), (x, p, y, n)) \
    X(void, mk_gelu, (const float *x, float *y, size_t n), (x, y, n)) \
    X(void, mk_gelu_backward, (const float *x, const float *gy, float *gx, size_t n), (x, gy, gx, n)) \
    X(void, mk_row_sum, (const float *x, size_t rows, size_t cols, float *out), (x, rows, cols, out)) \
    X(void, mk_row_max, (const float *x, size_t rows, size_t cols, float *out, int32_t *argmax), (x, rows, cols, out, argmax)) \
    X(void, mk_col_sum_accumulate, (const float *x, size_t rows, size_t cols, float *acc), (x, rows, cols, acc)) \
    X(double, mk_sum_double, (const float *x, size_t n), (x, n)) \
    X(double, mk_sum_squares_double, (const float *x, size_t n), (x, n)) \
    X(void, mk_softmax_rows, (const float *x, float *y, size_t rows, size_t cols), (x, y, rows, cols)) \
    X(void, mk_log_softmax_rows, (const float *x, float *y, size_t rows, size_t cols), (x, y, rows, cols)) \
    X(void, mk_softmax_backward_rows, (const float *y, const float *gy, float *gx, size_t rows, size_t cols), (y, gy, gx, rows, cols)) \
    X(void, mk_log_softmax_backward_rows, (const float *y, const float *gy, float *gx, size_t rows, size_t cols), (y, gy, gx, rows, cols)) \
    X(void, mk_attention_softmax, (const float *s, const float *bias, const uint8_t *groups, size_t period, float *p, size_t g0, size_t g1, size_t H, size_t N), (s, bias, groups, period, p, g0, g1, H, N)) \
    X(void, mk_attention_softmax_backward, (const float *p, const float *gp, float *gs, float *gbias, size_t g0, size_t g1, size_t H, size_t N), (p, gp, gs, gbias, g0, g1, H, N)) \
    X(void, mk_attention_softmax_block, (float *p, size_t ldp, const float *bias, size_t ldb, const uint8_t *groups, size_t len), (p, ldp, bias, ldb, groups, len)) \
    X(void, mk_attention_softmax_block_backward, (const float *p, float *g, size_t ld, float *gbias, size_t ldb, size_t len), (p, g, ld, gbias, ldb, len)) \
    X(void, mk_layer_norm, (const float *x, const float *w, const float *b, float *y, float *mean, float *rstd, size_t r0, size_t r1, size_t cols, float eps), (x, w, b, y, mean, rstd, r0, r1, cols, eps)) \
    X(void, mk_layer_norm_backward, (const float *x, const float *w, const float *mean, const float *rstd, const float *gy, float *gx, int accumulate, float *gw, float *gb, size_t r0, size_t r1, size_t cols), (x, w, mean, rstd, gy, gx, accumulate, gw, gb, r0, r1, cols)) \
    X(void, mk_cross_entropy, (const float *x, const int64_t *labels, int64_t ignore, float *logp, float *loss, size_t r0, size_t r1, size_t cols), (x, labels, ignore, logp, loss, r0, r1, cols)) \
    X(void, mk_cross_entropy_backward, (const float *logp, const int64_t *labels, int64_t ignore, float scale, float *gx, size_t r0, size_t r1, size_t cols), (logp, labels, ignore, scale, gx, r0, r1, cols)) \
    X(void, mk_adamw, (float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2, float eps, float weight_decay, float bias_correction1, float bias_correction2), (p, g, m, v, n, lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2)) \
    X(void, mk_sgd, (float *p, const float *g, float *buf, size_t n, float lr, float momentum, float weight_decay, int nesterov, int first_step), (p, g, buf, n, lr, momentum, weight_decay, nesterov, first_step)) \
    X(void, mk_copy_streaming, (float *dst, const float *src, size_t n), (dst, src, n)) \
    X(double, mk_fma_peak, (long steps, float multiplier, float addend, float *sum), (steps, multiplier, addend, sum)) \
    X(void, mk_strided_copy, (const float *x, const int64_t *shape, const int64_t *stride, int rank, float *out), (x, shape, stride, rank, out)) \
    X(void, mk_im2col, (const float *x, size_t B, size_t C, size_t H, size_t W, size_t k, size_t stride, size_t pad, size_t dilation, size_t Ho, size_t Wo, float *cols, size_t c0, size_t c1), (x, B, C, H, W, k, stride, pad, dilation, Ho, Wo, cols, c0, c1)) \
    X(void, mk_col2im, (const float *cols, size_t B, size_t C, size_t H, size_t W, size_t k, size_t stride, size_t pad, size_t dilation, size_t Ho, size_t Wo, float *gx, size_t c0, size_t c1), (cols, B, C, H, W, k, stride, pad, dilation, Ho, Wo, gx, c0, c1)) \
    X(void, mk_channels_to_batch, (const float *src, const float *bias, size_t O, size_t B, size_t N, float *y, size_t o0, size_t o1), (src, bias, O, B, N, y, o0, o1)) \
    X(void, mk_batch_to_channels, (const float *g, size_t O, size_t B, size_t N, float *dst, float *bias_grad, size_t o0, size_t o1), (g, O, B, N, dst, bias_grad, o0, o1)) \
    X(void, mk_group_norm, (const float *x, const float *w, const float *b, float *y, float *mean, float *rstd, size_t r0, size_t r1, size_t G, size_t Cg, size_t HW, float eps), (x, w, b, y, mean, rstd, r0, r1, G, Cg, HW, eps)) \
    X(void, mk_group_norm_backward, (const float *x, const float *w, const float *mean, const float *rstd, const float *gy, float *gx, float *gw, float *gb, size_t r0, size_t r1, size_t G, size_t Cg, size_t HW), (x, w, mean, rstd, gy, gx, gw, gb, r0, r1, G, Cg, HW)) \
    X(void, mk_resize_bilinear, (const float *x, size_t H, size_t W, size_t Ho, size_t Wo, int align_corners, float *y, size_t p0, size_t p1), (x, H, W, Ho, Wo, align_corners, y, p0, p1)) \
    X(void, mk_resize_bilinear_backward, (const float *gy, size_t H, size_t W, size_t Ho, size_t Wo, int align_corners, float *gx, size_t p0, size_t p1), (gy, H, W, Ho, Wo, align_corners, gx, p0, p1)) \
    X(void, mk_resize_nearest, (const float *x, size_t H, size_t W, size_t Ho, size_t Wo, float *y, size_t p0, size_t p1), (x, H, W, Ho, Wo, y, p0, p1)) \
    X(void, mk_resize_nearest_backward, (const float *gy, size_t H, size_t W, size_t Ho, size_t Wo, float *gx, size_t p0, size_t p1), (gy, H, W, Ho, Wo, gx, p0, p1)) \
    X(void, mk_adaptive_avg_pool, (const float *x, size_t H, size_t W, size_t Ho, size_t Wo, float *y, size_t p0, size_t p1), (x, H, W, Ho, Wo, y, p0, p1)) \
    X(void, mk_adaptive_avg_pool_backward, (const float *gy, size_t H, size_t W, size_t Ho, size_t Wo, float *gx, size_t p0, size_t p1), (gy, H, W, Ho, Wo, gx, p0, p1)) \
    X(void, mk_sigmoid_focal, (const float *x, const int64_t *labels, size_t C, float alpha, float gamma, float *loss, float *grad, size_t r0, size_t r1), (x, labels, C, alpha, gamma, loss, grad, r0, r1)) \
    X(void, mk_bce_logits, (const float *x, const float *t, float *loss, float *grad, size_t n), (x, t, loss, grad, n)) \
    X(void, mk_giou_loss, (const float *pred, const float *target, size_t n, float eps, float *loss, float *grad), (pred, target, n, eps, loss, grad)) \
    X(int, mk_attention_scores, (const float *a, size_t lda, const float *b, size_t ldb, size_t len, float alpha, float *s, size_t lds, float *scratch), (a, lda, b, ldb, len, alpha, s, lds, scratch)) \
    X(int, mk_attention_apply, (const float *p, size_t ldp, int transpose_p, const float *v, size_t ldv, size_t len, float alpha, float *out, size_t ldo), (p, ldp, transpose_p, v, ldv, len, alpha, out, ldo)) \
    X(int, mk_sgemm, (int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc, const float *bias), (ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)) \
    X(int, mk_sgemm_epilogue, (int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc, const float *bias, const mk_gemm_epilogue *epilogue), (ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, epilogue)) \
    X(void, mk_gemm_apply_epilogue, (const mk_gemm_epilogue *epilogue, float *c, size_t ldc, size_t m, size_t n), (epilogue, c, ldc, m, n))

#endif
