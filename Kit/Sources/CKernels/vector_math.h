// mk_expf's and mk_erff's polynomials (kernels_impl.h) and GELU's formula on a path's vectors, for the avx2 and
// avx512 GELU and softmax kernels. Included by a kernels_<path>.c inside its target region, after its MK_GEMM_*
// vector macros (with MK_GEMM_ADD, MK_GEMM_DIV, MK_GEMM_FNMADD and the bitwise MK_GEMM_AND, MK_GEMM_ANDNOT,
// MK_GEMM_OR and MK_GEMM_XOR) and the name of its e^x for x <= 0 (defined after this file, on mk_exp_reduced):
// MK_EXP_NONPOSITIVE_GROUP, its e^x of several vectors at once (see mk_gelu_parts_group), or MK_EXP_NONPOSITIVE, of
// one vector, which GELU's groups then call once per vector. A negated constant
// in a fused multiply-add gives the bits fnmadd gives.
//
// The `_group` functions compute `count` independent vectors (a constant at every call, so that the loops over it
// unroll) one step at a time: each step for every vector before the next step. Every lane gets the operations the
// single-vector form gives it, so the bits are the same; what changes is the order the instructions reach the core.
// One vector's exponential is a chain of 17 dependent instructions; on a core that splits each 256-bit instruction
// in two (AMD Zen 1), its scheduler fills with one chain's waiting halves, and the FMA units idle. Measured there
// (AMD EPYC, family 23 model 1; one thread, a 196x196 block of scores in cache, `e^(x - 6)`), the exponential pass
// took 36.6 us in groups of 4 against 49.7-56.6 one vector at a time; GELU (16 Ki floats) 41.6 against 46.5 cycles
// per vector in groups of 2 (43.6 in groups of 4: its erf keeps more registers live).
#ifndef MK_VECTOR_MATH_H
#define MK_VECTOR_MATH_H

// The most vectors a `_group` function takes at once (the size of its arrays).
#define MK_VECTOR_GROUP_MAX 4

// mk_expf's polynomial on `count` (at most MK_VECTOR_GROUP_MAX) vectors: y[u] = e^x[u] / 2^fx[u] for
// fx = floor(x log2(e) + 1/2), with fused multiply-adds. x is reduced in place.
static inline __attribute__((always_inline)) void mk_exp_reduced_group(mk_gemm_vec *x, const mk_gemm_vec *fx,
                                                                       mk_gemm_vec *y, int count) {
    mk_gemm_vec z[MK_VECTOR_GROUP_MAX];
    for (int u = 0; u < count; u++) x[u] = MK_GEMM_FMA(fx[u], MK_GEMM_SET1(-0.693359375f), x[u]);
    for (int u = 0; u < count; u++) x[u] = MK_GEMM_FMA(fx[u], MK_GEMM_SET1(2.12194440e-4f), x[u]);
    for (int u = 0; u < count; u++) z[u] = MK_GEMM_MUL(x[u], x[u]);
    for (int u = 0; u < count; u++)
        y[u] = MK_GEMM_FMA(MK_GEMM_SET1(1.9875691500E-4f), x[u], MK_GEMM_SET1(1.3981999507E-3f));
    for (int u = 0; u < count; u++) y[u] = MK_GEMM_FMA(y[u], x[u], MK_GEMM_SET1(8.3334519073E-3f));
    for (int u = 0; u < count; u++) y[u] = MK_GEMM_FMA(y[u], x[u], MK_GEMM_SET1(4.1665795894E-2f));
    for (int u = 0; u < count; u++) y[u] = MK_GEMM_FMA(y[u], x[u], MK_GEMM_SET1(1.6666665459E-1f));
    for (int u = 0; u < count; u++) y[u] = MK_GEMM_FMA(y[u], x[u], MK_GEMM_SET1(5.0000001201E-1f));
    for (int u = 0; u < count; u++) y[u] = MK_GEMM_ADD(MK_GEMM_FMA(y[u], z[u], x[u]), MK_GEMM_SET1(1.0f));
}

// mk_exp_reduced_group of one vector.
static inline mk_gemm_vec mk_exp_reduced(mk_gemm_vec x, mk_gemm_vec fx) {
    mk_gemm_vec y;
    mk_exp_reduced_group(&x, &fx, &y, 1);
    return y;
}

#ifdef MK_EXP_NONPOSITIVE_GROUP
// e^x for x <= 0 of `count` (at most MK_VECTOR_GROUP_MAX) vectors, in place: the path's own floor and power of two
// around mk_exp_reduced_group.
static inline __attribute__((always_inline)) void MK_EXP_NONPOSITIVE_GROUP(mk_gemm_vec *x, int count);
#else
// e^x for x <= 0 of one vector: the path's own floor and power of two around mk_exp_reduced.
static inline mk_gemm_vec MK_EXP_NONPOSITIVE(mk_gemm_vec x);
#endif

// GELU and its derivative (mk_gelu_erf1's and mk_gelu_slope1's formulas, A&S 7.1.26's erf) of `count` (at most
// MK_VECTOR_GROUP_MAX) vectors, from one exponential and one erf each: erf(a) = 1 - poly(t) e^(-a^2) for
// a = |v| / sqrt(2) and t = 1 / (1 + 0.3275911 a) (mk_erff).
static inline __attribute__((always_inline)) void mk_gelu_parts_group(const mk_gemm_vec *v, mk_gemm_vec *gelu,
                                                                      mk_gemm_vec *slope, int count) {
    const mk_gemm_vec sign = MK_GEMM_SET1(-0.0f), half = MK_GEMM_SET1(0.5f);
    mk_gemm_vec scaled[MK_VECTOR_GROUP_MAX], a[MK_VECTOR_GROUP_MAX], e[MK_VECTOR_GROUP_MAX], t[MK_VECTOR_GROUP_MAX];
    mk_gemm_vec poly[MK_VECTOR_GROUP_MAX], erf[MK_VECTOR_GROUP_MAX];
    for (int u = 0; u < count; u++) scaled[u] = MK_GEMM_MUL(v[u], MK_GEMM_SET1(0.70710678118654752f));
    for (int u = 0; u < count; u++) a[u] = MK_GEMM_ANDNOT(sign, scaled[u]);
    for (int u = 0; u < count; u++) e[u] = MK_GEMM_MUL(MK_GEMM_XOR(a[u], sign), a[u]);
    for (int u = 0; u < count; u++)
        t[u] = MK_GEMM_DIV(MK_GEMM_SET1(1.0f), MK_GEMM_FMA(MK_GEMM_SET1(0.3275911f), a[u], MK_GEMM_SET1(1.0f)));
#ifdef MK_EXP_NONPOSITIVE_GROUP
    MK_EXP_NONPOSITIVE_GROUP(e, count);
#else
    for (int u = 0; u < count; u++) e[u] = MK_EXP_NONPOSITIVE(e[u]);
#endif
    for (int u = 0; u < count; u++)
        poly[u] = MK_GEMM_FMA(MK_GEMM_SET1(1.061405429f), t[u], MK_GEMM_SET1(-1.453152027f));
    for (int u = 0; u < count; u++) poly[u] = MK_GEMM_FMA(poly[u], t[u], MK_GEMM_SET1(1.421413741f));
    for (int u = 0; u < count; u++) poly[u] = MK_GEMM_FMA(poly[u], t[u], MK_GEMM_SET1(-0.284496736f));
    for (int u = 0; u < count; u++) poly[u] = MK_GEMM_FMA(poly[u], t[u], MK_GEMM_SET1(0.254829592f));
    for (int u = 0; u < count; u++) poly[u] = MK_GEMM_MUL(poly[u], t[u]);
    for (int u = 0; u < count; u++)
        erf[u] = MK_GEMM_OR(MK_GEMM_FNMADD(poly[u], e[u], MK_GEMM_SET1(1.0f)), MK_GEMM_AND(scaled[u], sign));
    for (int u = 0; u < count; u++) {
        mk_gemm_vec hv = MK_GEMM_MUL(v[u], half);
        gelu[u] = MK_GEMM_FMA(hv, erf[u], hv);
    }
    for (int u = 0; u < count; u++) {
        mk_gemm_vec cdf = MK_GEMM_FMA(half, erf[u], half);
        slope[u] = MK_GEMM_FMA(MK_GEMM_MUL(v[u], MK_GEMM_SET1(0.39894228040143268f)), e[u], cdf);
    }
}

// mk_gelu_parts_group of one vector.
static inline __attribute__((always_inline)) void mk_gelu_parts(mk_gemm_vec v, mk_gemm_vec *gelu,
                                                               mk_gemm_vec *slope) {
    mk_gelu_parts_group(&v, gelu, slope, 1);
}

#endif
