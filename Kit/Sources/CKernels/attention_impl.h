// Attention's small products for one head of one window (or one run of a masked window), with the head
// dimension 32 that every Swin and MixMAE stage uses (MK_ATTENTION_HEAD_DIM), for runs of any length (16 to 196
// tokens in the models). These keep a block of rows of the result in registers and read the rows of q, k and v
// where they are (only one operand of the scores is transposed, into `scratch`). cblas_sgemm ran them before.
// Measured on AVX-512, one thread, the forward products and softmax of 256 windows of 64 tokens with 2 heads:
// 6.0-6.9 ms against 6.8-8.0 with OpenBLAS; 1,024 windows of 32 tokens with 4 heads: 18.2 against 22.5 ms.
// Included by each kernels_<path>.c after its MK_GEMM_* vector macros, MK_ATTENTION_ROWS (rows of the result per
// register block) and optionally MK_ATTENTION_BLOCK_VECTORS (vectors per row of a register block, a head's width
// when not defined); any other path gets versions that return 0, and the caller uses the BLAS instead.
#include "kernel_ops.h"
#include <stddef.h>

#if defined(MK_GEMM_VW) && defined(MK_ATTENTION_ROWS)

// Vectors per row of a head.
#define MK_ATTENTION_VECTORS (MK_ATTENTION_HEAD_DIM / MK_GEMM_VW)
// Vectors per row of a register block, and the columns they hold: a head's width, or a divisor of it. A path with
// 16 vector registers (avx2) blocks 6 rows x 2 vectors, 12 accumulators, as its GEMM micro-kernel does: 2 rows x 4
// vectors, 8 accumulators, left the fused multiply-adds waiting on each other (4 cycles apart on AMD Zen 4, 2 a
// cycle, so 8 chains are just enough only when nothing else is waiting), and a 3 x 4 block does not fit in the
// registers. Zen 4, avx2 (peak 232 GFLOP/s on both threads), `scripts/gemm-ab BEFORE AFTER --calls 15 scores,196
// apply,196 apply-t,196 ...` (both builds in one process, called in turn; medians): the scores 119 against 91
// GFLOP/s at 196 tokens, 106 against 84 at 49, 162 against 139 at 64; pᵀ v 146 against 121 at 196; p v 140 against
// 134 at 196 and the same at 49 and 64; avx512 (unchanged but for the row tails and the order of the scores'
// blocks) within 0.98-1.07 of before. In alternating step profiles (4 each, medians)
// the attention op took 90 against 101 ms forward and 143 against 172 backward per tiny224 finetuning step, 72
// against 78 and 107 against 128 per pretraining step; small128 pretraining (masked runs of 20-44 tokens) the same
// within noise (38 against 39 ms, six profiles each).
#ifndef MK_ATTENTION_BLOCK_VECTORS
#define MK_ATTENTION_BLOCK_VECTORS MK_ATTENTION_VECTORS
#endif
#define MK_ATTENTION_BLOCK_COLUMNS (MK_ATTENTION_BLOCK_VECTORS * MK_GEMM_VW)

// One register block of either product: out[block_rows x columns] (rows ldo apart) = scale Σ_k a_k b_k over
// `depth` steps, where a_k holds a[r * row_step + k * a_step] for the block's rows r and b_k is `vectors` vectors at
// b + k * ldb. Inlined with `block_rows` and `vectors` (and, for the scores, `depth`, `row_step` and `a_step`)
// constants. One base pointer and a row step, not a pointer per row: with six rows' pointers (avx2) the compiler
// ran out of general registers, recomputed the addresses on every step and spilled an accumulator to the stack.
static inline __attribute__((always_inline)) void mk_attention_block(const float *restrict a, size_t row_step,
                                                                    size_t a_step, const float *restrict b,
                                                                    size_t ldb, size_t depth, size_t vectors,
                                                                    mk_gemm_vec scale, float *out, size_t ldo,
                                                                    size_t block_rows, size_t columns) {
    mk_gemm_vec acc[MK_ATTENTION_ROWS][MK_ATTENTION_BLOCK_VECTORS];
    for (size_t r = 0; r < block_rows; r++)
        for (size_t v = 0; v < vectors; v++) acc[r][v] = MK_GEMM_ZERO();
    MK_GEMM_REDUCTION_UNROLL for (size_t k = 0; k < depth; k++) {
        mk_gemm_vec bv[MK_ATTENTION_BLOCK_VECTORS];
        for (size_t v = 0; v < vectors; v++) bv[v] = MK_GEMM_LOAD(b + v * MK_GEMM_VW);
        for (size_t r = 0; r < block_rows; r++) {
            mk_gemm_vec x = MK_GEMM_SET1(a[r * row_step]);
            for (size_t v = 0; v < vectors; v++) acc[r][v] = MK_GEMM_FMA(x, bv[v], acc[r][v]);
        }
        a += a_step;
        b += ldb;
    }
    for (size_t r = 0; r < block_rows; r++) {
        float *row = out + r * ldo;
        if (columns == vectors * MK_GEMM_VW) {
            for (size_t v = 0; v < vectors; v++) MK_GEMM_STORE(row + v * MK_GEMM_VW, MK_GEMM_MUL(scale, acc[r][v]));
        } else {
            for (size_t v = 0; v < vectors && v * MK_GEMM_VW < columns; v++) {
                size_t left = columns - v * MK_GEMM_VW;
                if (left >= MK_GEMM_VW) MK_GEMM_STORE(row + v * MK_GEMM_VW, MK_GEMM_MUL(scale, acc[r][v]));
                else MK_GEMM_STORE_FIRST(row + v * MK_GEMM_VW, MK_GEMM_MUL(scale, acc[r][v]), left);
            }
        }
    }
}

// Rows i0..<i0 + block_rows of the scores' columns j0..<j0 + columns (see mk_attention_scores): bᵀ is in
// `scratch`, `width` floats a row. A block of at most half a register block's width computes half the vectors.
static inline __attribute__((always_inline)) void mk_attention_scores_block(const float *a, size_t lda,
                                                                           const float *scratch, size_t width,
                                                                           mk_gemm_vec scale, float *s, size_t lds,
                                                                           size_t i0, size_t block_rows, size_t j0,
                                                                           size_t columns) {
    if (MK_ATTENTION_BLOCK_VECTORS > 1 && columns <= MK_ATTENTION_BLOCK_COLUMNS / 2)
        mk_attention_block(a + i0 * lda, lda, 1, scratch + j0, width, MK_ATTENTION_HEAD_DIM,
                           MK_ATTENTION_BLOCK_VECTORS / 2, scale, s + i0 * lds + j0, lds, block_rows, columns);
    else
        mk_attention_block(a + i0 * lda, lda, 1, scratch + j0, width, MK_ATTENTION_HEAD_DIM,
                           MK_ATTENTION_BLOCK_VECTORS, scale, s + i0 * lds + j0, lds, block_rows, columns);
}

// Rows i0..<i0 + block_rows of mk_attention_apply's out; op(p)[i][j] = p[i * row_step + j * column_step].
static inline __attribute__((always_inline)) void mk_attention_apply_rows(const float *p, size_t row_step,
                                                                         size_t column_step, const float *v,
                                                                         size_t ldv, size_t len, mk_gemm_vec scale,
                                                                         float *out, size_t ldo, size_t i0,
                                                                         size_t block_rows) {
    for (size_t c0 = 0; c0 < MK_ATTENTION_HEAD_DIM; c0 += MK_ATTENTION_BLOCK_COLUMNS)
        mk_attention_block(p + i0 * row_step, row_step, column_step, v + c0, ldv, len, MK_ATTENTION_BLOCK_VECTORS,
                           scale, out + i0 * ldo + c0, ldo, block_rows, MK_ATTENTION_BLOCK_COLUMNS);
}

// Runs ROWS(i0, block_rows) over rows 0..<len: blocks of MK_ATTENTION_ROWS, then what is left in one block of
// exactly that many rows, each size a constant (the loop over the sizes unrolls), so that no block computes a row it
// does not store (49 tokens, Swin's 7x7 windows, were 7 blocks of 8 rows, the last with one row to store), and a
// last block of columns stores its first floats with the path's MK_GEMM_STORE_FIRST (a masked store on avx512)
// instead of a scalar copy. `mixmae bench ops`' attention table, three alternating runs of each build: 7x7 windows
// (8 x 49 tokens x 24 heads) forward 0.60-0.65 against 0.83-0.97 ms, backward 0.90-0.93 against 1.25-1.58; 14x14
// windows (128 x 196 x 3) forward 16.0-17.9 against 16.6-20.0, backward 23.0-23.2 against 24.0-26.2; 8x8 windows
// (whole blocks) the same. One block for the rest, not halves of MK_ATTENTION_ROWS: avx2's 6 rows left 2 as two
// blocks of 1 row (2 accumulators each, waiting on each other).
#define MK_ATTENTION_FOR_ROW_BLOCKS(len, ROWS)                                                        \
    do {                                                                                              \
        size_t i0_ = 0;                                                                               \
        for (; i0_ + MK_ATTENTION_ROWS <= (len); i0_ += MK_ATTENTION_ROWS) ROWS(i0_, MK_ATTENTION_ROWS); \
        _Pragma("clang loop unroll(full)") for (size_t rest_ = 1; rest_ < MK_ATTENTION_ROWS; rest_++)   \
            if ((len) - i0_ == rest_) ROWS(i0_, rest_);                                               \
    } while (0)

// s[len x len] (rows lds apart) = alpha a bᵀ, where a and b are [len x 32] with rows lda and ldb apart.
// `scratch` holds 32 x round_up(len, 32) floats.
//
// Whole blocks of b's rows are transposed in registers (a path's MK_GEMM_TRANSPOSE), and a last block of at
// most 16 columns computes 16, not 32. Against a gather of single floats and 32-column blocks only, measured
// on AVX-512 (one thread, one head of a [len x 288] qkv, in cache): 196 tokens 26.0-26.6 against 30.1-30.4 us,
// 64 tokens 2.6-2.7 against 3.0, 49 tokens 2.6-2.7 against 2.8, 16 tokens 0.24 against 0.55.
static int mk_attention_scores(const float *a, size_t lda, const float *b, size_t ldb, size_t len, float alpha,
                               float *s, size_t lds, float *scratch) {
    size_t width = (len + MK_ATTENTION_HEAD_DIM - 1) / MK_ATTENTION_HEAD_DIM * MK_ATTENTION_HEAD_DIM;
    // bᵀ: [32 x width], zero past len. Whole blocks of VW tokens are transposed in registers.
    size_t transposed = 0;
#ifdef MK_GEMM_TRANSPOSE
    for (; transposed + MK_GEMM_VW <= len; transposed += MK_GEMM_VW)
        for (size_t t0 = 0; t0 < MK_ATTENTION_HEAD_DIM; t0 += MK_GEMM_VW)
            MK_GEMM_TRANSPOSE(b + transposed * ldb + t0, ldb, scratch + t0 * width + transposed, width);
#endif
    // The blocks read up to the next whole block's columns, or half a block's when the last block is a half one.
    size_t whole = MK_ATTENTION_BLOCK_COLUMNS, half = MK_ATTENTION_BLOCK_VECTORS > 1 ? whole / 2 : whole;
    size_t last = len % whole, step = last != 0 && last <= half ? half : whole;
    size_t read = (len + step - 1) / step * step;
    for (size_t t = 0; t < MK_ATTENTION_HEAD_DIM; t++) {
        float *row = scratch + t * width;
        for (size_t j = transposed; j < len; j++) row[j] = b[j * ldb + t];
        for (size_t j = len; j < read; j += MK_GEMM_VW)
            if (read - j >= MK_GEMM_VW) MK_GEMM_STORE(row + j, MK_GEMM_ZERO());
            else MK_GEMM_STORE_FIRST(row + j, MK_GEMM_ZERO(), read - j);
    }
    mk_gemm_vec scale = MK_GEMM_SET1(alpha);
    // Column blocks outside, rows inside: a block of bᵀ (32 x 32 floats at most) stays in L1 while every row of a
    // passes (a head's rows of a are 25 KB at 196 tokens, the whole bᵀ 28 KB): one thread, 196 tokens, 71 against
    // 67 GFLOP/s on avx2, 76 against 73 on avx512 (best of 100 calls in turn).
    for (size_t j0 = 0; j0 < len; j0 += MK_ATTENTION_BLOCK_COLUMNS) {
        size_t columns = len - j0 < MK_ATTENTION_BLOCK_COLUMNS ? len - j0 : MK_ATTENTION_BLOCK_COLUMNS;
#define MK_ATTENTION_SCORES_ROWS(i0, block_rows) \
    mk_attention_scores_block(a, lda, scratch, width, scale, s, lds, i0, block_rows, j0, columns)
        MK_ATTENTION_FOR_ROW_BLOCKS(len, MK_ATTENTION_SCORES_ROWS);
#undef MK_ATTENTION_SCORES_ROWS
    }
    return 1;
}

// out[len x 32] (rows ldo apart) = alpha op(p) v, where p is [len x len] (rows ldp apart), op(p) is p or
// (transpose_p) pᵀ, and v is [len x 32] with rows ldv apart.
//
// Each orientation is its own instance, its row step a constant (1 for pᵀ) or ldp: with both steps read at run
// time, the compiler reached a block's six rows of p by a chain of six additions on every step of the reduction
// (avx2: 114 instructions per four steps of a 6 x 2 block, 92 so). The same multiply-adds in the same order (the
// outputs' hashes are unchanged). `scripts/gemm-ab BEFORE AFTER --calls 31|41 [--cold] apply,LEN apply-t,LEN` (Zen 4,
// both threads, medians) at 49, 64 and 196 tokens: avx2 1.003-1.020x in cache when the machine ran steadily and
// 1.06-1.14x when it did not (the longer avx2 loop slows first when the host takes a share of the core), cold
// 1.06-1.10x but for one 0.96x (49 tokens, pᵀ v, both builds' runs 87-186 GFLOP/s); avx512 0.97-1.03x.
static int mk_attention_apply(const float *p, size_t ldp, int transpose_p, const float *v, size_t ldv, size_t len,
                              float alpha, float *out, size_t ldo) {
    mk_gemm_vec scale = MK_GEMM_SET1(alpha);
#define MK_ATTENTION_APPLY_PT_ROWS(i0, block_rows) \
    mk_attention_apply_rows(p, 1, ldp, v, ldv, len, scale, out, ldo, i0, block_rows)
#define MK_ATTENTION_APPLY_P_ROWS(i0, block_rows) \
    mk_attention_apply_rows(p, ldp, 1, v, ldv, len, scale, out, ldo, i0, block_rows)
    if (transpose_p) MK_ATTENTION_FOR_ROW_BLOCKS(len, MK_ATTENTION_APPLY_PT_ROWS);
    else MK_ATTENTION_FOR_ROW_BLOCKS(len, MK_ATTENTION_APPLY_P_ROWS);
#undef MK_ATTENTION_APPLY_PT_ROWS
#undef MK_ATTENTION_APPLY_P_ROWS
    return 1;
}

#else

static int mk_attention_scores(const float *a, size_t lda, const float *b, size_t ldb, size_t len, float alpha,
                               float *s, size_t lds, float *scratch) {
    (void)a, (void)lda, (void)b, (void)ldb, (void)len, (void)alpha, (void)s, (void)lds, (void)scratch;
    return 0;
}

static int mk_attention_apply(const float *p, size_t ldp, int transpose_p, const float *v, size_t ldv, size_t len,
                              float alpha, float *out, size_t ldo) {
    (void)p, (void)ldp, (void)transpose_p, (void)v, (void)ldv, (void)len, (void)alpha, (void)out, (void)ldo;
    return 0;
}

#endif
