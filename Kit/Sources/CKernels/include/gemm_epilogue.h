#ifndef MIXKIT_GEMM_EPILOGUE_H
#define MIXKIT_GEMM_EPILOGUE_H
#include <stddef.h>

// What mk_sgemm_epilogue does to each block of C once the block's product is complete, while it is still in cache
// (a sliver of MR rows of one packed panel of columns), instead of a pass of its own over the whole of C. Every
// pointer is indexed like C (row i, column j of the GEMM's C at [i * ld + j]); NULL skips that step. In order:
//   1. c[i][j] += addend[i][j]             (a residual connection)
//   2. gelu_out[i][j] = gelu(c[i][j])       (may be c itself: the activation in place)
// GELU is mk_gelu's, so the result is bit for bit that of the passes one after another.
typedef struct mk_gemm_epilogue {
    const float *addend;
    size_t ld_addend;
    float *gelu_out;
    size_t ld_gelu_out;
} mk_gemm_epilogue;

#endif
