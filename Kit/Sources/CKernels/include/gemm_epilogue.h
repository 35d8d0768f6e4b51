#ifndef MIXKIT_GEMM_EPILOGUE_H
#define MIXKIT_GEMM_EPILOGUE_H
#include <stddef.h>

// What mk_sgemm_epilogue does to each block of C once the block's product is complete, while it is still in cache
// (a sliver of MR rows of one packed panel of columns), instead of a pass of its own over the whole of C. Every
// pointer is indexed like C (row i, column j of the GEMM's C at [i * ld + j]); NULL skips that step. In order:
//   1. c[i][j] += addend[i][j]             (a residual connection)
//   2. c[i][j] *= factor[i][j]             (GELU's derivative, kept by the forward pass, on a hidden gradient)
//   3. gelu_out[i][j] = gelu(c[i][j])       (may be c itself: the activation in place)
//      and with slope_out, slope_out[i][j] = gelu'(c[i][j]) (may be c itself: the slope over fc1's output)
// GELU and its slope are mk_gelu's and mk_gelu_backward's, so the result is bit for bit that of the passes one
// after another.
typedef struct mk_gemm_epilogue {
    const float *addend;
    size_t ld_addend;
    const float *factor;
    size_t ld_factor;
    float *gelu_out;
    size_t ld_gelu_out;
    float *slope_out;
    size_t ld_slope_out;
} mk_gemm_epilogue;

#endif
