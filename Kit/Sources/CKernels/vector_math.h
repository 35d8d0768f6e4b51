// mk_expf's and mk_erff's polynomials (kernels_impl.h) and GELU's formula on a path's vectors, for the avx2 and
// avx512 GELU and softmax kernels. Included by a kernels_<path>.c inside its target region, after its MK_GEMM_*
// vector macros (with MK_GEMM_ADD, MK_GEMM_DIV, MK_GEMM_FNMADD and the bitwise MK_GEMM_AND, MK_GEMM_ANDNOT,
// MK_GEMM_OR and MK_GEMM_XOR) and MK_EXP_NONPOSITIVE, the name of its e^x for x <= 0 (defined after this file, on
// mk_exp_reduced). A negated constant in a fused multiply-add gives the bits fnmadd gives.
#ifndef MK_VECTOR_MATH_H
#define MK_VECTOR_MATH_H

// mk_expf's polynomial: e^x / 2^fx for fx = floor(x log2(e) + 1/2), with fused multiply-adds.
static inline mk_gemm_vec mk_exp_reduced(mk_gemm_vec x, mk_gemm_vec fx) {
    x = MK_GEMM_FMA(fx, MK_GEMM_SET1(-0.693359375f), x);
    x = MK_GEMM_FMA(fx, MK_GEMM_SET1(2.12194440e-4f), x);
    mk_gemm_vec z = MK_GEMM_MUL(x, x);
    mk_gemm_vec y = MK_GEMM_SET1(1.9875691500E-4f);
    y = MK_GEMM_FMA(y, x, MK_GEMM_SET1(1.3981999507E-3f));
    y = MK_GEMM_FMA(y, x, MK_GEMM_SET1(8.3334519073E-3f));
    y = MK_GEMM_FMA(y, x, MK_GEMM_SET1(4.1665795894E-2f));
    y = MK_GEMM_FMA(y, x, MK_GEMM_SET1(1.6666665459E-1f));
    y = MK_GEMM_FMA(y, x, MK_GEMM_SET1(5.0000001201E-1f));
    return MK_GEMM_ADD(MK_GEMM_FMA(y, z, x), MK_GEMM_SET1(1.0f));
}

// A&S 7.1.26's polynomial in t = 1 / (1 + 0.3275911 a) (mk_erff): erf(a) = 1 - poly(t) e^(-a^2) for a >= 0.
static inline mk_gemm_vec mk_erf_poly(mk_gemm_vec a) {
    mk_gemm_vec t = MK_GEMM_DIV(MK_GEMM_SET1(1.0f), MK_GEMM_FMA(MK_GEMM_SET1(0.3275911f), a, MK_GEMM_SET1(1.0f)));
    mk_gemm_vec r = MK_GEMM_FMA(MK_GEMM_SET1(1.061405429f), t, MK_GEMM_SET1(-1.453152027f));
    r = MK_GEMM_FMA(r, t, MK_GEMM_SET1(1.421413741f));
    r = MK_GEMM_FMA(r, t, MK_GEMM_SET1(-0.284496736f));
    r = MK_GEMM_FMA(r, t, MK_GEMM_SET1(0.254829592f));
    return MK_GEMM_MUL(r, t);
}

// e^x for x <= 0: the path's own floor and power of two around mk_exp_reduced.
static inline mk_gemm_vec MK_EXP_NONPOSITIVE(mk_gemm_vec x);

// GELU and its derivative (mk_gelu_erf1's and mk_gelu_slope1's formulas, A&S 7.1.26's erf) of a vector, from one
// exponential and one erf.
static inline void mk_gelu_parts(mk_gemm_vec v, mk_gemm_vec *gelu, mk_gemm_vec *slope) {
    const mk_gemm_vec sign = MK_GEMM_SET1(-0.0f), half = MK_GEMM_SET1(0.5f);
    mk_gemm_vec u = MK_GEMM_MUL(v, MK_GEMM_SET1(0.70710678118654752f));
    mk_gemm_vec a = MK_GEMM_ANDNOT(sign, u);
    mk_gemm_vec e = MK_EXP_NONPOSITIVE(MK_GEMM_MUL(MK_GEMM_XOR(a, sign), a));
    mk_gemm_vec erf = MK_GEMM_OR(MK_GEMM_FNMADD(mk_erf_poly(a), e, MK_GEMM_SET1(1.0f)), MK_GEMM_AND(u, sign));
    mk_gemm_vec hv = MK_GEMM_MUL(v, half);
    *gelu = MK_GEMM_FMA(hv, erf, hv);
    mk_gemm_vec cdf = MK_GEMM_FMA(half, erf, half);
    *slope = MK_GEMM_FMA(MK_GEMM_MUL(v, MK_GEMM_SET1(0.39894228040143268f)), e, cdf);
}

#endif
