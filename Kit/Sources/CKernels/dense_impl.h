// The bodies of the dense-prediction kernels (declared in
// include/dense_kernels.h). Included by each kernels_<path>.c like
// kernels_impl.h, so every function here is static.
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// MARK: - Convolution

// The output columns ox in [*lo, *hi) whose input column ox*stride + offset lies in [0, W).
static inline void valid_range(long offset, size_t stride, size_t W, size_t Wo, size_t *lo, size_t *hi) {
    long s = (long)stride;
    long first = offset >= 0 ? 0 : (-offset + s - 1) / s;
    long last = ((long)W - offset + s - 1) / s;  // exclusive
    if (last < 0) last = 0;
    if (first > (long)Wo) first = (long)Wo;
    if (last > (long)Wo) last = (long)Wo;
    if (last < first) last = first;
    *lo = (size_t)first;
    *hi = (size_t)last;
}

static void mk_im2col(const float *x, size_t B, size_t C, size_t H, size_t W, size_t k, size_t stride, size_t pad,
               size_t dilation, size_t Ho, size_t Wo, float *cols, size_t c0, size_t c1) {
    size_t N = Ho * Wo, ld = B * N;
    for (size_t c = c0; c < c1; c++) {
        for (size_t ki = 0; ki < k; ki++) {
            for (size_t kj = 0; kj < k; kj++) {
                float *row = cols + ((c * k + ki) * k + kj) * ld;
                long offx = (long)(kj * dilation) - (long)pad;
                long offy = (long)(ki * dilation) - (long)pad;
                size_t lo, hi;
                valid_range(offx, stride, W, Wo, &lo, &hi);
                for (size_t b = 0; b < B; b++) {
                    const float *plane = x + (b * C + c) * H * W;
                    float *out = row + b * N;
                    for (size_t oy = 0; oy < Ho; oy++) {
                        long iy = (long)(oy * stride) + offy;
                        float *o = out + oy * Wo;
                        if (iy < 0 || iy >= (long)H) {
                            memset(o, 0, Wo * sizeof(float));
                            continue;
                        }
                        const float *src = plane + (size_t)iy * W;
                        for (size_t ox = 0; ox < lo; ox++) o[ox] = 0;
                        if (stride == 1) {
                            if (hi > lo) memcpy(o + lo, src + (long)lo + offx, (hi - lo) * sizeof(float));
                        } else {
                            for (size_t ox = lo; ox < hi; ox++) o[ox] = src[(long)(ox * stride) + offx];
                        }
                        for (size_t ox = hi; ox < Wo; ox++) o[ox] = 0;
                    }
                }
            }
        }
    }
}

static void mk_col2im(const float *cols, size_t B, size_t C, size_t H, size_t W, size_t k, size_t stride, size_t pad,
               size_t dilation, size_t Ho, size_t Wo, float *gx, size_t c0, size_t c1) {
    size_t N = Ho * Wo, ld = B * N;
    for (size_t c = c0; c < c1; c++) {
        for (size_t ki = 0; ki < k; ki++) {
            for (size_t kj = 0; kj < k; kj++) {
                const float *row = cols + ((c * k + ki) * k + kj) * ld;
                long offx = (long)(kj * dilation) - (long)pad;
                long offy = (long)(ki * dilation) - (long)pad;
                size_t lo, hi;
                valid_range(offx, stride, W, Wo, &lo, &hi);
                for (size_t b = 0; b < B; b++) {
                    float *plane = gx + (b * C + c) * H * W;
                    const float *in = row + b * N;
                    for (size_t oy = 0; oy < Ho; oy++) {
                        long iy = (long)(oy * stride) + offy;
                        if (iy < 0 || iy >= (long)H) continue;
                        const float *o = in + oy * Wo;
                        float *dst = plane + (size_t)iy * W;
                        if (stride == 1) {
                            float *d = dst + (long)lo + offx;
                            for (size_t ox = lo; ox < hi; ox++) d[ox - lo] += o[ox];
                        } else {
                            for (size_t ox = lo; ox < hi; ox++) dst[(long)(ox * stride) + offx] += o[ox];
                        }
                    }
                }
            }
        }
    }
}

static void mk_channels_to_batch(const float *src, const float *bias, size_t O, size_t B, size_t N, float *y, size_t o0,
                          size_t o1) {
    for (size_t o = o0; o < o1; o++) {
        float add = bias ? bias[o] : 0;
        for (size_t b = 0; b < B; b++) {
            const float *s = src + o * B * N + b * N;
            float *d = y + (b * O + o) * N;
            for (size_t i = 0; i < N; i++) d[i] = s[i] + add;
        }
    }
}

static void mk_batch_to_channels(const float *g, size_t O, size_t B, size_t N, float *dst, float *bias_grad, size_t o0,
                          size_t o1) {
    for (size_t o = o0; o < o1; o++) {
        double sum = 0;
        for (size_t b = 0; b < B; b++) {
            const float *s = g + (b * O + o) * N;
            float *d = dst + o * B * N + b * N;
            float part = 0;
            for (size_t i = 0; i < N; i++) {
                d[i] = s[i];
                part += s[i];
            }
            sum += part;
        }
        if (bias_grad) bias_grad[o] = (float)sum;
    }
}

// MARK: - Group normalisation

static void mk_group_norm(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd, size_t r0,
                   size_t r1, size_t G, size_t Cg, size_t HW, float eps) {
    size_t L = Cg * HW;
    for (size_t r = r0; r < r1; r++) {
        const float *xr = x + r * L;
        float *yr = y + r * L;
        double s = 0;
        for (size_t i = 0; i < L; i++) s += xr[i];
        float mu = (float)(s / (double)L);
        double v = 0;
        for (size_t i = 0; i < L; i++) {
            float d = xr[i] - mu;
            v += (double)(d * d);
        }
        float rs = 1.0f / sqrtf((float)(v / (double)L) + eps);
        mean[r] = mu;
        rstd[r] = rs;
        size_t g = r % G;
        for (size_t j = 0; j < Cg; j++) {
            size_t c = g * Cg + j;
            float scale = w ? w[c] * rs : rs;
            float shift = (b ? b[c] : 0) - mu * scale;
            const float *xc = xr + j * HW;
            float *yc = yr + j * HW;
            for (size_t i = 0; i < HW; i++) yc[i] = xc[i] * scale + shift;
        }
    }
}

static void mk_group_norm_backward(const float *x, const float *w, const float *mean, const float *rstd, const float *gy,
                            float *gx, float *gw, float *gb, size_t r0, size_t r1, size_t G, size_t Cg, size_t HW) {
    size_t L = Cg * HW;
    for (size_t r = r0; r < r1; r++) {
        const float *xr = x + r * L, *gr = gy + r * L;
        float mu = mean[r], rs = rstd[r];
        size_t g = r % G;
        double s1 = 0, s2 = 0;
        for (size_t j = 0; j < Cg; j++) {
            size_t c = g * Cg + j;
            float wc = w ? w[c] : 1;
            const float *xc = xr + j * HW, *gc = gr + j * HW;
            float sw = 0, sb = 0, a1 = 0, a2 = 0;
            for (size_t i = 0; i < HW; i++) {
                float xhat = (xc[i] - mu) * rs;
                sw += gc[i] * xhat;
                sb += gc[i];
            }
            a1 = sb * wc;
            a2 = sw * wc;
            s1 += a1;
            s2 += a2;
            if (gw) gw[c] += sw;
            if (gb) gb[c] += sb;
        }
        if (!gx) continue;
        float m1 = (float)(s1 / (double)L), m2 = (float)(s2 / (double)L);
        float *xo = gx + r * L;
        for (size_t j = 0; j < Cg; j++) {
            size_t c = g * Cg + j;
            float wc = w ? w[c] : 1;
            const float *xc = xr + j * HW, *gc = gr + j * HW;
            float *oc = xo + j * HW;
            for (size_t i = 0; i < HW; i++) {
                float xhat = (xc[i] - mu) * rs;
                oc[i] = rs * (gc[i] * wc - m1 - xhat * m2);
            }
        }
    }
}

// MARK: - Resampling

// Taps of 1-D linear interpolation, as PyTorch's upsample_bilinear2d computes them.
// Without fused multiply-adds, so that every kernel path samples the same
// source positions (a contracted `scale * d - 0.5` can move an index across
// an integer).
static void linear_taps(size_t in, size_t out, int align_corners, size_t *i0, size_t *i1, float *l1) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
    float scale;
    if (align_corners) {
        scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    } else {
        scale = (float)in / (float)out;
    }
    for (size_t d = 0; d < out; d++) {
        float src = align_corners ? scale * (float)d : scale * ((float)d + 0.5f) - 0.5f;
        if (src < 0) src = 0;
        size_t a = (size_t)src;
        if (a > in - 1) a = in - 1;
        i0[d] = a;
        i1[d] = a < in - 1 ? a + 1 : a;
        l1[d] = src - (float)a;
    }
}

typedef struct {
    size_t *y0, *y1, *x0, *x1;
    float *ly, *lx;
} taps2d;

static taps2d make_taps(size_t H, size_t W, size_t Ho, size_t Wo, int align_corners) {
    taps2d t;
    t.y0 = malloc(sizeof(size_t) * Ho);
    t.y1 = malloc(sizeof(size_t) * Ho);
    t.ly = malloc(sizeof(float) * Ho);
    t.x0 = malloc(sizeof(size_t) * Wo);
    t.x1 = malloc(sizeof(size_t) * Wo);
    t.lx = malloc(sizeof(float) * Wo);
    linear_taps(H, Ho, align_corners, t.y0, t.y1, t.ly);
    linear_taps(W, Wo, align_corners, t.x0, t.x1, t.lx);
    return t;
}

static void free_taps(taps2d t) {
    free(t.y0);
    free(t.y1);
    free(t.ly);
    free(t.x0);
    free(t.x1);
    free(t.lx);
}

static void mk_resize_bilinear(const float *x, size_t H, size_t W, size_t Ho, size_t Wo, int align_corners, float *y,
                        size_t p0, size_t p1) {
    taps2d t = make_taps(H, W, Ho, Wo, align_corners);
    for (size_t p = p0; p < p1; p++) {
        const float *src = x + p * H * W;
        float *dst = y + p * Ho * Wo;
        for (size_t oy = 0; oy < Ho; oy++) {
            const float *r0 = src + t.y0[oy] * W, *r1 = src + t.y1[oy] * W;
            float wy1 = t.ly[oy], wy0 = 1.0f - wy1;
            float *o = dst + oy * Wo;
            for (size_t ox = 0; ox < Wo; ox++) {
                float wx1 = t.lx[ox], wx0 = 1.0f - wx1;
                size_t a = t.x0[ox], b = t.x1[ox];
                o[ox] = wy0 * (wx0 * r0[a] + wx1 * r0[b]) + wy1 * (wx0 * r1[a] + wx1 * r1[b]);
            }
        }
    }
    free_taps(t);
}

static void mk_resize_bilinear_backward(const float *gy, size_t H, size_t W, size_t Ho, size_t Wo, int align_corners,
                                 float *gx, size_t p0, size_t p1) {
    taps2d t = make_taps(H, W, Ho, Wo, align_corners);
    for (size_t p = p0; p < p1; p++) {
        const float *g = gy + p * Ho * Wo;
        float *dst = gx + p * H * W;
        for (size_t oy = 0; oy < Ho; oy++) {
            float *r0 = dst + t.y0[oy] * W, *r1 = dst + t.y1[oy] * W;
            float wy1 = t.ly[oy], wy0 = 1.0f - wy1;
            const float *gr = g + oy * Wo;
            for (size_t ox = 0; ox < Wo; ox++) {
                float wx1 = t.lx[ox], wx0 = 1.0f - wx1;
                size_t a = t.x0[ox], b = t.x1[ox];
                float v = gr[ox];
                r0[a] += wy0 * wx0 * v;
                r0[b] += wy0 * wx1 * v;
                r1[a] += wy1 * wx0 * v;
                r1[b] += wy1 * wx1 * v;
            }
        }
    }
    free_taps(t);
}

static inline size_t nearest_index(size_t d, size_t in, size_t out) {
    if (out == in) return d;
    if (out == 2 * in) return d >> 1;
    float scale = (float)in / (float)out;
    size_t s = (size_t)floorf((float)d * scale);
    return s < in ? s : in - 1;
}

static void mk_resize_nearest(const float *x, size_t H, size_t W, size_t Ho, size_t Wo, float *y, size_t p0, size_t p1) {
    size_t *xs = malloc(sizeof(size_t) * Wo);
    for (size_t ox = 0; ox < Wo; ox++) xs[ox] = nearest_index(ox, W, Wo);
    for (size_t p = p0; p < p1; p++) {
        const float *src = x + p * H * W;
        float *dst = y + p * Ho * Wo;
        for (size_t oy = 0; oy < Ho; oy++) {
            const float *r = src + nearest_index(oy, H, Ho) * W;
            float *o = dst + oy * Wo;
            for (size_t ox = 0; ox < Wo; ox++) o[ox] = r[xs[ox]];
        }
    }
    free(xs);
}

static void mk_resize_nearest_backward(const float *gy, size_t H, size_t W, size_t Ho, size_t Wo, float *gx, size_t p0,
                                size_t p1) {
    size_t *xs = malloc(sizeof(size_t) * Wo);
    for (size_t ox = 0; ox < Wo; ox++) xs[ox] = nearest_index(ox, W, Wo);
    for (size_t p = p0; p < p1; p++) {
        const float *g = gy + p * Ho * Wo;
        float *dst = gx + p * H * W;
        for (size_t oy = 0; oy < Ho; oy++) {
            float *r = dst + nearest_index(oy, H, Ho) * W;
            const float *gr = g + oy * Wo;
            for (size_t ox = 0; ox < Wo; ox++) r[xs[ox]] += gr[ox];
        }
    }
    free(xs);
}

static void mk_adaptive_avg_pool(const float *x, size_t H, size_t W, size_t Ho, size_t Wo, float *y, size_t p0, size_t p1) {
    for (size_t p = p0; p < p1; p++) {
        const float *src = x + p * H * W;
        float *dst = y + p * Ho * Wo;
        for (size_t oy = 0; oy < Ho; oy++) {
            size_t ys = oy * H / Ho, ye = ((oy + 1) * H + Ho - 1) / Ho;
            for (size_t ox = 0; ox < Wo; ox++) {
                size_t xs = ox * W / Wo, xe = ((ox + 1) * W + Wo - 1) / Wo;
                float s = 0;
                for (size_t iy = ys; iy < ye; iy++)
                    for (size_t ix = xs; ix < xe; ix++) s += src[iy * W + ix];
                dst[oy * Wo + ox] = s / (float)((ye - ys) * (xe - xs));
            }
        }
    }
}

static void mk_adaptive_avg_pool_backward(const float *gy, size_t H, size_t W, size_t Ho, size_t Wo, float *gx, size_t p0,
                                   size_t p1) {
    for (size_t p = p0; p < p1; p++) {
        const float *g = gy + p * Ho * Wo;
        float *dst = gx + p * H * W;
        for (size_t oy = 0; oy < Ho; oy++) {
            size_t ys = oy * H / Ho, ye = ((oy + 1) * H + Ho - 1) / Ho;
            for (size_t ox = 0; ox < Wo; ox++) {
                size_t xs = ox * W / Wo, xe = ((ox + 1) * W + Wo - 1) / Wo;
                float v = g[oy * Wo + ox] / (float)((ye - ys) * (xe - xs));
                for (size_t iy = ys; iy < ye; iy++)
                    for (size_t ix = xs; ix < xe; ix++) dst[iy * W + ix] += v;
            }
        }
    }
}

// MARK: - Detection losses

// log(1 + e^z) without overflow.
static inline float softplus(float z) { return fmaxf(z, 0.0f) + log1pf(expf(-fabsf(z))); }

static inline float power(float base, float gamma) {
    if (gamma == 2.0f) return base * base;
    if (gamma == 1.0f) return base;
    if (gamma == 0.0f) return 1.0f;
    return powf(base, gamma);
}

static void mk_sigmoid_focal(const float *x, const int64_t *labels, size_t C, float alpha, float gamma, float *loss,
                      float *grad, size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; r++) {
        int64_t label = labels[r];
        for (size_t c = 0; c < C; c++) {
            size_t i = r * C + c;
            float v = x[i];
            float p = 1.0f / (1.0f + expf(-v));
            if (label == (int64_t)c) {
                float logp = -softplus(-v);
                float q = power(1.0f - p, gamma);
                loss[i] = -alpha * q * logp;
                if (grad) grad[i] = alpha * q * (gamma * p * logp - (1.0f - p));
            } else {
                float log1mp = -softplus(v);
                float q = power(p, gamma);
                loss[i] = -(1.0f - alpha) * q * log1mp;
                if (grad) grad[i] = (1.0f - alpha) * q * (p - gamma * (1.0f - p) * log1mp);
            }
        }
    }
}

static void mk_bce_logits(const float *x, const float *t, float *loss, float *grad, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        loss[i] = fmaxf(v, 0.0f) - v * t[i] + log1pf(expf(-fabsf(v)));
        if (grad) grad[i] = 1.0f / (1.0f + expf(-v)) - t[i];
    }
}

// d min(a, t) / d a and d max(a, t) / d a; a tie shares the gradient equally.
static inline float pick_min(float a, float t) { return a < t ? 1.0f : (a == t ? 0.5f : 0.0f); }
static inline float pick_max(float a, float t) { return a > t ? 1.0f : (a == t ? 0.5f : 0.0f); }

static void mk_giou_loss(const float *pred, const float *target, size_t n, float eps, float *loss, float *grad) {
    for (size_t i = 0; i < n; i++) {
        const float *p = pred + 4 * i, *t = target + 4 * i;
        float a1 = p[0], b1 = p[1], a2 = p[2], b2 = p[3];
        float t1 = t[0], u1 = t[1], t2 = t[2], u2 = t[3];
        float ap = (a2 - a1) * (b2 - b1);
        float at = (t2 - t1) * (u2 - u1);
        float iw = fminf(a2, t2) - fmaxf(a1, t1);
        float ih = fminf(b2, u2) - fmaxf(b1, u1);
        float iwc = fmaxf(iw, 0.0f), ihc = fmaxf(ih, 0.0f);
        float inter = iwc * ihc;
        float ur = ap + at - inter;
        float un = fmaxf(ur, eps);
        float ew = fmaxf(fmaxf(a2, t2) - fminf(a1, t1), 0.0f);
        float eh = fmaxf(fmaxf(b2, u2) - fminf(b1, u1), 0.0f);
        float er = ew * eh;
        float en = fmaxf(er, eps);
        loss[i] = 1.0f - (inter / un - (en - un) / en);
        if (!grad) continue;
        // loss = 2 - I/U - U/E.
        float gu = ur > eps ? inter / (un * un) - 1.0f / en : 0.0f;
        float ge = er > eps ? un / (en * en) : 0.0f;
        float gi = -1.0f / un - gu;
        float *g = grad + 4 * i;
        g[0] = -(b2 - b1) * gu;
        g[2] = (b2 - b1) * gu;
        g[1] = -(a2 - a1) * gu;
        g[3] = (a2 - a1) * gu;
        if (iw > 0 && ih > 0) {
            float giw = gi * ihc, gih = gi * iwc;
            g[2] += giw * pick_min(a2, t2);
            g[0] -= giw * pick_max(a1, t1);
            g[3] += gih * pick_min(b2, u2);
            g[1] -= gih * pick_max(b1, u1);
        }
        if (ge != 0.0f) {
            float gew = ge * eh, geh = ge * ew;
            g[2] += gew * pick_max(a2, t2);
            g[0] -= gew * pick_min(a1, t1);
            g[3] += geh * pick_max(b2, u2);
            g[1] -= geh * pick_min(b1, u1);
        }
    }
}
