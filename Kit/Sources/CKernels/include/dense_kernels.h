#ifndef MIXKIT_DENSE_KERNELS_H
#define MIXKIT_DENSE_KERNELS_H
// Kernels of the dense-prediction ops (convolution, group norm, resampling,
// detection losses). Layout NCHW; every function works on the range of
// channels, planes or rows the caller gives it, so callers can split work
// over threads without two chunks writing the same element.
#include <stddef.h>
#include <stdint.h>

// im2col for a whole batch into cols [C*k*k, B*Ho*Wo] (row (c*k + ki)*k + kj,
// column b*Ho*Wo + oy*Wo + ox), for channels [c0, c1). Out-of-image taps are 0.
void mk_im2col(const float *x, size_t B, size_t C, size_t H, size_t W, size_t k, size_t stride, size_t pad,
               size_t dilation, size_t Ho, size_t Wo, float *cols, size_t c0, size_t c1);
// The adjoint of mk_im2col: gx[b, c] += taps of cols, for channels [c0, c1). gx is not cleared.
void mk_col2im(const float *cols, size_t B, size_t C, size_t H, size_t W, size_t k, size_t stride, size_t pad,
               size_t dilation, size_t Ho, size_t Wo, float *gx, size_t c0, size_t c1);

// y[b, o, i] = src[o, b*N + i] (+ bias[o]) for o in [o0, o1): [O, B*N] -> [B, O, N].
void mk_channels_to_batch(const float *src, const float *bias, size_t O, size_t B, size_t N, float *y, size_t o0,
                          size_t o1);
// dst[o, b*N + i] = g[b, o, i] for o in [o0, o1); bias_grad[o] = sum over b, i (when not NULL).
void mk_batch_to_channels(const float *g, size_t O, size_t B, size_t N, float *dst, float *bias_grad, size_t o0,
                          size_t o1);

// Group normalisation of x [B, G*Cg, HW] for rows r = b*G + g in [r0, r1); mean/rstd per row.
void mk_group_norm(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd, size_t r0,
                   size_t r1, size_t G, size_t Cg, size_t HW, float eps);
// Backward for rows [r0, r1): writes gx (if not NULL); adds per-channel sums into gw, gb (if not NULL).
void mk_group_norm_backward(const float *x, const float *w, const float *mean, const float *rstd, const float *gy,
                            float *gx, float *gw, float *gb, size_t r0, size_t r1, size_t G, size_t Cg, size_t HW);

// Bilinear resampling of planes [p0, p1) from H x W to Ho x Wo, PyTorch's
// interpolate(mode="bilinear") with align_corners 0 or 1.
void mk_resize_bilinear(const float *x, size_t H, size_t W, size_t Ho, size_t Wo, int align_corners, float *y,
                        size_t p0, size_t p1);
// Its adjoint: gx (cleared by the caller) += spread of gy, planes [p0, p1).
void mk_resize_bilinear_backward(const float *gy, size_t H, size_t W, size_t Ho, size_t Wo, int align_corners,
                                 float *gx, size_t p0, size_t p1);
// Nearest resampling (PyTorch's mode="nearest": source floor(dst * in / out)), and its adjoint.
void mk_resize_nearest(const float *x, size_t H, size_t W, size_t Ho, size_t Wo, float *y, size_t p0, size_t p1);
void mk_resize_nearest_backward(const float *gy, size_t H, size_t W, size_t Ho, size_t Wo, float *gx, size_t p0,
                                size_t p1);
// Adaptive average pooling (PyTorch's bins: [floor(i*in/out), ceil((i+1)*in/out))), and its adjoint.
void mk_adaptive_avg_pool(const float *x, size_t H, size_t W, size_t Ho, size_t Wo, float *y, size_t p0, size_t p1);
void mk_adaptive_avg_pool_backward(const float *gy, size_t H, size_t W, size_t Ho, size_t Wo, float *gx, size_t p0,
                                   size_t p1);

// Sigmoid focal loss over rows [r0, r1) of logits [N, C]: label[r] in 0..<C is the
// positive class of row r, anything else means all classes are negative. Writes
// the element-wise loss and, when grad is not NULL, d loss / d logit.
void mk_sigmoid_focal(const float *x, const int64_t *labels, size_t C, float alpha, float gamma, float *loss,
                      float *grad, size_t r0, size_t r1);
// Binary cross-entropy with logits, element-wise, and d loss / d logit (grad may be NULL).
void mk_bce_logits(const float *x, const float *t, float *loss, float *grad, size_t n);
// 1 - GIoU of aligned boxes [n, 4] (x1, y1, x2, y2), as mmdet's bbox_overlaps(mode="giou",
// is_aligned=True): union and enclosing area clamped below by eps. Writes d loss / d pred (may be NULL).
void mk_giou_loss(const float *pred, const float *target, size_t n, float eps, float *loss, float *grad);

#endif
