// mk_expf's and mk_erff's polynomials (kernels_impl.h) on a path's vectors, for the avx2 and avx512 GELU and
// softmax kernels. Included by a kernels_<path>.c inside its target region, after its MK_GEMM_* vector macros
// (with MK_GEMM_ADD and MK_GEMM_DIV). A negated constant in a fused multiply-add gives the bits fnmadd gives.
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

#endif
