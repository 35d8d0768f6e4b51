// The body of mk_sgemm: a single-threaded, cache-blocked SGEMM on row-major
// matrices, C = alpha op(A) op(B) + bias + beta C, in the BLIS design (B packed
// into contiguous micro-panels, one register-blocked micro-kernel over them).
// Unlike BLIS, A is read in place, row by row, unless it is transposed (then it
// is packed when more than one block of columns reuses it, or its rows alias in
// L1): the project's activations are tall and narrow, and the copy cost more
// than it saved. A last sliver of fewer rows than the micro-tile runs a kernel
// of a third or two thirds of its rows. Included by each
// kernels_<path>.c like kernels_impl.h. A path that defines the vector macros
// below before including this file gets the kernel; any other path gets a
// mk_sgemm that returns 0, and the caller uses the BLAS instead.
//
// Why our own: on the project's GEMM shapes (tall-skinny linears with k = 32-96,
// weight gradients with a long reduction) OpenBLAS 0.3.21's SkylakeX kernels
// reached 60-70% of what PyTorch's MKL does on the same CPU; this kernel runs
// the forward and input-gradient products of those shapes 10-35% faster than
// OpenBLAS (one thread each), ties on weight gradients and large square ones.
// `mixmae bench ops` shows both (set MIXMAE_GEMM=openblas for OpenBLAS blocks).
//
// Vector macros a path defines: MK_GEMM_VW (floats per vector), MK_GEMM_MR
// (rows of C per micro-tile; two vectors of columns per row, so NR = 2 VW),
// mk_gemm_vec, MK_GEMM_LOAD, MK_GEMM_STORE, MK_GEMM_SET1, MK_GEMM_FMA,
// MK_GEMM_ZERO; optionally MK_GEMM_TRANSPOSE (a VW x VW block transposed in
// registers, for packing a transposed B).
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "prefetch.h"

// The epilogue (gemm_epilogue.h) on rows x columns of C at c (rows ldc apart); the epilogue's pointers are indexed
// from the GEMM's C, and `row` and `column` say where c is in it.
static void mk_gemm_epilogue_block(const mk_gemm_epilogue *ep, float *c, size_t ldc, size_t row, size_t column,
                                   size_t rows, size_t columns) {
    for (size_t i = 0; i < rows; i++) {
        float *ci = c + i * ldc;
        if (ep->addend != NULL) {
            const float *r = ep->addend + (row + i) * ep->ld_addend + column;
            for (size_t j = 0; j < columns; j++) ci[j] += r[j];
        }
        if (ep->factor != NULL) {
            const float *f = ep->factor + (row + i) * ep->ld_factor + column;
            for (size_t j = 0; j < columns; j++) ci[j] *= f[j];
        }
        if (ep->gelu_out == NULL) continue;
        float *gelu = ep->gelu_out + (row + i) * ep->ld_gelu_out + column;
        if (ep->slope_out != NULL)
            mk_gelu_with_slope(ci, gelu, ep->slope_out + (row + i) * ep->ld_slope_out + column, columns);
        else
            mk_gelu(ci, gelu, columns);
    }
}

// Asks for the operands the epilogue reads (addend, factor) of rows x columns at (row, column) of C, while the
// sliver before them computes: an MLP's kept GELU slope comes from memory, MR rows of a block of columns at a time,
// a pattern the hardware's prefetchers do not follow across rows. Zen 4, both threads, operands evicted before each
// call (`scripts/gemm-ab --cold`), medians of 15 calls in turn, two runs: 1024x1024x256 with the factor 1.02-1.08x
// on avx2 and 1.00-1.01x on avx512, 1568x1536x384 1.04x and 1.01-1.02x; 4096x512x128 and a residual 0.97-1.03x.
// Asking for GELU's outputs (to be written) as well measured 0.95-1.02x on 1024x1024x256 and was left out.
static inline void mk_gemm_prefetch_epilogue(const mk_gemm_epilogue *ep, size_t row, size_t column, size_t rows,
                                             size_t columns) {
    if (ep->addend != NULL) mk_prefetch_rows(ep->addend + row * ep->ld_addend + column, ep->ld_addend, rows, columns);
    if (ep->factor != NULL) mk_prefetch_rows(ep->factor + row * ep->ld_factor + column, ep->ld_factor, rows, columns);
}

static void mk_gemm_apply_epilogue(const mk_gemm_epilogue *ep, float *c, size_t ldc, size_t m, size_t n) {
    if (ep != NULL) mk_gemm_epilogue_block(ep, c, ldc, 0, 0, m, n);
}

#ifdef MK_GEMM_VW

#define MK_GEMM_NR (2 * MK_GEMM_VW)
// Depth of one packed block (the reduction length a micro-kernel call covers).
#define MK_GEMM_KC 384
// Columns of B packed at once for a whole block of the reduction (L2-resident: KC * NC floats), a multiple of NR.
// A shorter reduction packs more columns in the same floats (mk_gemm_column_block).
#define MK_GEMM_NC (15 * MK_GEMM_NR)
// Rows of A packed at once, a multiple of MR.
#define MK_GEMM_MC (128 * MK_GEMM_MR)

// A transposed A is packed when C has more columns than this.
#define MK_GEMM_PACK_A_COLUMNS (2 * MK_GEMM_NR)
// Below this many rows of C, a transposed B is left to the caller (see mk_sgemm).
#define MK_GEMM_MIN_ROWS_TRANSPOSED_B 128
#define MK_GEMM_MIN(a, b) ((a) < (b) ? (a) : (b))
// Row strides (in floats) that alias in L1 (2 KB), and the padding that breaks the alias in the copy.
#define MK_GEMM_ALIASING_FLOATS 512
#define MK_GEMM_ROW_PAD 16

// A packed: for each group of MR rows, kc steps of MR values (rows past m are 0).
static void mk_gemm_pack_a(int ta, const float *a, size_t lda, size_t mc, size_t kc, float *dst) {
    for (size_t i0 = 0; i0 < mc; i0 += MK_GEMM_MR) {
        size_t mr = MK_GEMM_MIN((size_t)MK_GEMM_MR, mc - i0);
        if (ta) {
            // op(A)[i][p] = a[p * lda + i]: MR contiguous values per step.
            for (size_t p = 0; p < kc; p++) {
                const float *src = a + p * lda + i0;
                if (mr == MK_GEMM_MR) {
                    memcpy(dst + p * MK_GEMM_MR, src, sizeof(float) * MK_GEMM_MR);
                } else {
                    size_t i = 0;
                    for (; i < mr; i++) dst[p * MK_GEMM_MR + i] = src[i];
                    for (; i < MK_GEMM_MR; i++) dst[p * MK_GEMM_MR + i] = 0;
                }
            }
        } else {
            for (size_t i = 0; i < mr; i++) {
                const float *src = a + (i0 + i) * lda;
                for (size_t p = 0; p < kc; p++) dst[p * MK_GEMM_MR + i] = src[p];
            }
            for (size_t i = mr; i < MK_GEMM_MR; i++)
                for (size_t p = 0; p < kc; p++) dst[p * MK_GEMM_MR + i] = 0;
        }
        dst += kc * MK_GEMM_MR;
    }
}

// B packed: for each group of NR columns, kc steps of NR values (columns past n are 0).
static void mk_gemm_pack_b(int tb, const float *b, size_t ldb, size_t kc, size_t nc, float *dst) {
    for (size_t j0 = 0; j0 < nc; j0 += MK_GEMM_NR) {
        size_t nr = MK_GEMM_MIN((size_t)MK_GEMM_NR, nc - j0);
        if (!tb) {
            for (size_t p = 0; p < kc; p++) {
                const float *src = b + p * ldb + j0;
                float *out = dst + p * MK_GEMM_NR;
                if (nr == MK_GEMM_NR) {
                    // Two vector moves: a memcpy call per 128 bytes cost 1-2% of a training step.
                    MK_GEMM_STORE(out, MK_GEMM_LOAD(src));
                    MK_GEMM_STORE(out + MK_GEMM_VW, MK_GEMM_LOAD(src + MK_GEMM_VW));
                } else {
                    size_t j = 0;
                    for (; j < nr; j++) out[j] = src[j];
                    for (; j < MK_GEMM_NR; j++) out[j] = 0;
                }
            }
#ifdef MK_GEMM_TRANSPOSE
        } else if (nr == MK_GEMM_NR) {
            // Whole panels: VW x VW blocks transposed in registers (a path's MK_GEMM_TRANSPOSE), each source
            // line read whole at once, so L1 keeps nothing between blocks and a wide weight's rows 2 KB apart cost
            // nothing more. One thread, AVX-512, the project's weights: 0.07-0.16 ns per float, against 0.27-0.56
            // by the gathers below; a forward linear of 256 or 512 rows per thread ran 2-6% faster.
            const float *src = b + j0 * ldb;
            size_t p = 0;
            for (; p + MK_GEMM_VW <= kc; p += MK_GEMM_VW) {
                MK_GEMM_TRANSPOSE(src + p, ldb, dst + p * MK_GEMM_NR, MK_GEMM_NR);
                MK_GEMM_TRANSPOSE(src + MK_GEMM_VW * ldb + p, ldb, dst + p * MK_GEMM_NR + MK_GEMM_VW, MK_GEMM_NR);
            }
            for (; p < kc; p++)
                for (size_t j = 0; j < MK_GEMM_NR; j++) dst[p * MK_GEMM_NR + j] = src[j * ldb + p];
#endif
        } else if (ldb % MK_GEMM_ALIASING_FLOATS != 0) {
            // op(B)[p][j] = b[j * ldb + p]: written in order, read from NR rows at once.
            const float *src = b + j0 * ldb;
            for (size_t p = 0; p < kc; p++) {
                float *out = dst + p * MK_GEMM_NR;
                size_t j = 0;
                for (; j < nr; j++) out[j] = src[j * ldb + p];
                for (; j < MK_GEMM_NR; j++) out[j] = 0;
            }
        } else {
            // Rows 2 KB apart: NR of them read at once evict each other from L1 (a 1024-wide weight packed at
            // 1.96 ns per float, against 0.32 when 256 wide). Four rows at a time stay in their set's ways:
            // 0.58-0.61 ns per float at every width.
            const float *src = b + j0 * ldb;
            size_t j = 0;
            for (; j + 4 <= nr; j += 4) {
                const float *r0 = src + j * ldb, *r1 = r0 + ldb, *r2 = r1 + ldb, *r3 = r2 + ldb;
                for (size_t p = 0; p < kc; p++) {
                    float *out = dst + p * MK_GEMM_NR + j;
                    out[0] = r0[p], out[1] = r1[p], out[2] = r2[p], out[3] = r3[p];
                }
            }
            for (; j < nr; j++)
                for (size_t p = 0; p < kc; p++) dst[p * MK_GEMM_NR + j] = src[j * ldb + p];
            for (; j < MK_GEMM_NR; j++)
                for (size_t p = 0; p < kc; p++) dst[p * MK_GEMM_NR + j] = 0;
        }
        dst += kc * MK_GEMM_NR;
    }
}

// Asks for the tile's rows of C (with intent to write) before the reduction, so that the stores at its end find
// them in cache: a fresh output tensor is in neither cache, and the kernel otherwise waits on each row's line
// at the store. 16384x256x64, one thread: 65-70 GFLOP/s without, 69-73 with (interleaved runs).
static inline void mk_gemm_prefetch_tile(const float *c, size_t ldc, size_t mr) {
    for (size_t i = 0; i < mr; i++) {
        __builtin_prefetch(c + i * ldc, 1, 3);
        __builtin_prefetch(c + i * ldc + MK_GEMM_NR - 1, 1, 3);
    }
}

// The micro-kernel's reduction loop unrolled MK_GEMM_K_UNROLL times, on a path that defines it (AVX2). The AVX2
// kernel's loop (the padded-rows instance, objdump) issued 30 instructions a step for its 12 fused multiply-adds:
// 6 broadcasts, 2 loads and 10 of address arithmetic and loop control; unrolled four times, 22. AVX-512 does twice
// the work per instruction, and when the core is busy with something else as well (on this project's virtual
// machines, at times), the AVX2 kernel slows first and most.
// Zen 4, AVX2, both threads each on its own product, the builds without and with it loaded into one process and
// called in turn (15 calls each, median GFLOP/s): 1024x256x768 155 against 173, 512x1024x256 Bᵀ 157 against 173,
// 3136x384x96 Bᵀ 158 against 170, 1024x256x1024 Aᵀ 152 against 160; in six alternating profiles of each step, the
// sixteen largest GEMM shapes' medians summed, small128 finetuning 299 against 338 ms and tiny224 finetuning 926
// against 996. Unrolled, the AVX-512 kernel lost 25-35% (152-155 against 207-210 GFLOP/s on the first two).
#ifdef MK_GEMM_K_UNROLL
#define MK_GEMM_PRAGMA(text) _Pragma(#text)
#define MK_GEMM_UNROLL_BY(count) MK_GEMM_PRAGMA(clang loop unroll_count(count))
#define MK_GEMM_REDUCTION_UNROLL MK_GEMM_UNROLL_BY(MK_GEMM_K_UNROLL)
#else
#define MK_GEMM_REDUCTION_UNROLL
#endif

// One MR x NR tile of C from kc steps of A and packed B: C = alpha acc + bias + beta C
// (C is not read when beta is 0; bias, per column, may be NULL). Rows past mr and columns past nr are not
// written. A's value for row i at step p is pa[i * row_step + p * step]: packed A
// has row_step 1 and step MR; A read in place has (1, lda) when transposed and
// (lda, 1) when not. The instances below fix one of the two at compile time. MK_GEMM_MICRO_WITH's ROWS is the
// rows the kernel computes: MR, or fewer for a last sliver (MK_GEMM_SHORT_ROWS).
#define MK_GEMM_MICRO(NAME, ROW_STEP, STEP) MK_GEMM_MICRO_WITH(NAME, ROW_STEP, STEP, MK_GEMM_MR, inline)
#define MK_GEMM_MICRO_WITH(NAME, ROW_STEP, STEP, ROWS, ATTRIBUTES)                                                  \
    static ATTRIBUTES void NAME(size_t kc, const float *restrict pa, size_t lda, const float *restrict pb, float *c,   \
                            size_t ldc, size_t mr, size_t nr, float alpha, float beta, const float *bias) {        \
        (void)lda;                                                                                                 \
        mk_gemm_vec acc0[ROWS], acc1[ROWS];                                                                        \
        _Pragma("clang loop unroll(full)") for (int i = 0; i < (ROWS); i++) acc0[i] = acc1[i] = MK_GEMM_ZERO();     \
        mk_gemm_prefetch_tile(c, ldc, mr);                                                                         \
        MK_GEMM_REDUCTION_UNROLL for (size_t p = 0; p < kc; p++) {                                                 \
            mk_gemm_vec b0 = MK_GEMM_LOAD(pb), b1 = MK_GEMM_LOAD(pb + MK_GEMM_VW);                                 \
            _Pragma("clang loop unroll(full)") for (int i = 0; i < (ROWS); i++) {                                  \
                mk_gemm_vec ai = MK_GEMM_SET1(pa[(size_t)i * (ROW_STEP)]);                                         \
                acc0[i] = MK_GEMM_FMA(ai, b0, acc0[i]);                                                            \
                acc1[i] = MK_GEMM_FMA(ai, b1, acc1[i]);                                                            \
            }                                                                                                      \
            pa += (STEP);                                                                                          \
            pb += MK_GEMM_NR;                                                                                      \
        }                                                                                                          \
        mk_gemm_store(acc0, acc1, c, ldc, mr, nr, alpha, beta, bias);                                              \
    }

// Row i of a tile: alpha acc + bias + beta C (C not read when beta is 0), two whole vectors.
static inline void mk_gemm_store_row(mk_gemm_vec acc0, mk_gemm_vec acc1, float *ci, mk_gemm_vec va, mk_gemm_vec vb,
                                     mk_gemm_vec bias0, mk_gemm_vec bias1, float beta) {
    mk_gemm_vec v0 = MK_GEMM_FMA(acc0, va, bias0), v1 = MK_GEMM_FMA(acc1, va, bias1);
    if (beta != 0) {
        v0 = MK_GEMM_FMA(MK_GEMM_LOAD(ci), vb, v0);
        v1 = MK_GEMM_FMA(MK_GEMM_LOAD(ci + MK_GEMM_VW), vb, v1);
    }
    MK_GEMM_STORE(ci, v0);
    MK_GEMM_STORE(ci + MK_GEMM_VW, v1);
}

// Stores the first mr rows and nr columns of a tile held in acc0[i], acc1[i] (i < mr).
static inline void mk_gemm_store(const mk_gemm_vec *acc0, const mk_gemm_vec *acc1, float *c, size_t ldc, size_t mr,
                                 size_t nr, float alpha, float beta, const float *bias) {
    mk_gemm_vec va = MK_GEMM_SET1(alpha), vb = MK_GEMM_SET1(beta);
    if (nr == MK_GEMM_NR) {
        mk_gemm_vec bias0 = MK_GEMM_ZERO(), bias1 = MK_GEMM_ZERO();
        if (bias != NULL) bias0 = MK_GEMM_LOAD(bias), bias1 = MK_GEMM_LOAD(bias + MK_GEMM_VW);
        if (mr == MK_GEMM_MR) {
#pragma clang loop unroll(full)
            for (int i = 0; i < MK_GEMM_MR; i++)
                mk_gemm_store_row(acc0[i], acc1[i], c + (size_t)i * ldc, va, vb, bias0, bias1, beta);
        } else {
            for (size_t i = 0; i < mr; i++) mk_gemm_store_row(acc0[i], acc1[i], c + i * ldc, va, vb, bias0, bias1, beta);
        }
        return;
    }
    float tile[MK_GEMM_NR];
    for (size_t i = 0; i < mr; i++) {
        MK_GEMM_STORE(tile, acc0[i]);
        MK_GEMM_STORE(tile + MK_GEMM_VW, acc1[i]);
        float *ci = c + i * ldc;
        for (size_t j = 0; j < nr; j++) {
            float v = alpha * tile[j] + (bias != NULL ? bias[j] : 0);
            ci[j] = beta != 0 ? v + beta * ci[j] : v;
        }
    }
}

MK_GEMM_MICRO(mk_gemm_micro_packed, 1, MK_GEMM_MR)

// Rows of the kernels for a last sliver of fewer than MR rows: a third and two thirds of MR.
#define MK_GEMM_SHORT_ROWS (MK_GEMM_MR / 3)

// The last sliver of a packed A (fewer than MR rows, zero-padded to MR), by the kernel of a third or two thirds of
// MR rows that covers it, instead of MR rows (each element the same multiply-adds in the same order). A
// C of 64 rows (small128's first stage) computed 72 rows with the MR kernel alone: one thread, AVX-512, best of 15,
// 64x256x504 Aᵀ (its MLP's fc2 weight gradient, one block of rows) 0.155-0.162 against 0.177 ms; 256x256x1024 Aᵀ
// (22 slivers, the last of 4 rows) 1.22-1.30 against 1.28-1.34 ms.
MK_GEMM_MICRO_WITH(mk_gemm_micro_third, 1, MK_GEMM_MR, MK_GEMM_SHORT_ROWS, )
MK_GEMM_MICRO_WITH(mk_gemm_micro_two_thirds, 1, MK_GEMM_MR, 2 * MK_GEMM_SHORT_ROWS, )

// A packed sliver of mr rows by the smallest kernel that covers them.
static inline void mk_gemm_micro_packed_rows(size_t kc, const float *restrict pa, const float *restrict pb, float *c,
                                             size_t ldc, size_t mr, size_t nr, float alpha, float beta,
                                             const float *bias) {
    if (mr <= MK_GEMM_SHORT_ROWS)
        mk_gemm_micro_third(kc, pa, 0, pb, c, ldc, mr, nr, alpha, beta, bias);
    else if (mr <= 2 * MK_GEMM_SHORT_ROWS)
        mk_gemm_micro_two_thirds(kc, pa, 0, pb, c, ldc, mr, nr, alpha, beta, bias);
    else
        mk_gemm_micro_packed(kc, pa, 0, pb, c, ldc, mr, nr, alpha, beta, bias);
}
MK_GEMM_MICRO(mk_gemm_micro_columns, 1, lda)
MK_GEMM_MICRO(mk_gemm_micro_rows, lda, 1)
// The rows kernel for A's rows copied to a padded buffer (see mk_sgemm), kept out of line: inlined there, the
// compiler ran out of registers for the twelve row offsets and reloaded and spilled each of them on every step of
// the reduction. Out of line it keeps them in registers. AVX-512, operands from memory, interleaved runs, GFLOP/s:
// 1568x384x1536 with Bᵀ (Swin-T's third-stage fc2) 196 against 174 on two threads, 96 against 88 on one. The other
// kernels stay inline: out of line, the short reductions (k = 64) lost 7%.
MK_GEMM_MICRO_WITH(mk_gemm_micro_padded_rows, lda, 1, MK_GEMM_MR, __attribute__((noinline)))

// The calling thread's packing buffers, kept for the next call (freed when the thread ends).
static pthread_key_t mk_gemm_buffer_key;
static pthread_once_t mk_gemm_buffer_once = PTHREAD_ONCE_INIT;
static void mk_gemm_make_key(void) { pthread_key_create(&mk_gemm_buffer_key, free); }

static float *mk_gemm_buffer(void) {
    pthread_once(&mk_gemm_buffer_once, mk_gemm_make_key);
    float *buffer = pthread_getspecific(mk_gemm_buffer_key);
    if (buffer == NULL) {
        size_t floats = (size_t)MK_GEMM_KC * (MK_GEMM_MC + MK_GEMM_NC);
        if (posix_memalign((void **)&buffer, 64, floats * sizeof(float)) != 0) return NULL;
        pthread_setspecific(mk_gemm_buffer_key, buffer);
    }
    return buffer;
}

// Columns of C per block of packed B when the reduction blocks are at most kc steps deep. The packed B holds at
// most KC * NC floats, so a short reduction (k = 64-128 in the models' early stages) packs more columns at once and
// reads A, which comes from memory for each block of columns, fewer times; and n is shared evenly among the blocks
// (in whole micro-panels), so that no block is a remainder a micro-panel or two wide, which read all of A again
// for a few tiles (n = 256 was 240 + 16 columns with the AVX2 kernel's NC). Four alternating profiles of each
// step, the sixteen largest GEMM shapes' medians summed, ms a step: with AVX2 (on Zen 4, AVX-512 hidden) small128
// finetuning 307 against 328 and tiny224 pretraining 921 against 987; with AVX-512, whose wider NC split fewer of
// the models' shapes, 272 against 276 and 881 against 870 (within the runs' spread).
static size_t mk_gemm_column_block(size_t n, size_t kc) {
    size_t limit = (size_t)MK_GEMM_KC * MK_GEMM_NC / kc / MK_GEMM_NR * MK_GEMM_NR;
    size_t blocks = (n + limit - 1) / limit;
    size_t per_block = (n + blocks - 1) / blocks;
    return (per_block + MK_GEMM_NR - 1) / MK_GEMM_NR * MK_GEMM_NR;
}

static int mk_sgemm_epilogue(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                             const float *b, size_t ldb, float beta, float *c, size_t ldc, const float *bias,
                             const mk_gemm_epilogue *epilogue) {
    // Transposed B is packed by a gather; with few rows of C to share that copy, OpenBLAS's vectorised packing
    // wins (64x768x256 with B transposed, one thread, GFLOP/s: OpenBLAS 89 and this kernel 73 on AVX-512,
    // OpenBLAS 59 and this kernel 48 on AVX2), so those products go back to the caller.
    if (tb && m < MK_GEMM_MIN_ROWS_TRANSPOSED_B) return 0;
    if (m == 0 || n == 0) return 1;
    if (k == 0 || alpha == 0) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                c[i * ldc + j] = (beta != 0 ? beta * c[i * ldc + j] : 0) + (bias != NULL ? bias[j] : 0);
        mk_gemm_apply_epilogue(epilogue, c, ldc, m, n);
        return 1;
    }
    float *buffer = mk_gemm_buffer();
    if (buffer == NULL) return 0;
    float *packed_a = buffer, *packed_b = buffer + (size_t)MK_GEMM_KC * MK_GEMM_MC;
    // A not transposed is read in place, row by row (each of the MR rows a
    // contiguous stream): measured faster than packing on every shape of the
    // project's models. Transposed A (MR contiguous values per step, lda apart)
    // is packed a block at a time when more than one block of columns reads it
    // again, or sliver by sliver (pack_slivers, below) when its rows are a multiple
    // of 2 KB apart (each sliver's steps would share L1 sets).
    // Within one block of columns the kernel reads it in place as fast as a packed
    // copy, and the copy is time lost: one thread, AVX-512, best of 15, GFLOP/s in
    // place against packed, operands in cache: 768x256x1024 Aᵀ 112 against 108,
    // 256x256x1024 Aᵀ 109 against 106; evicted first: 105 against 103, 99.6 against 98.
    size_t column_block = mk_gemm_column_block(n, MK_GEMM_MIN((size_t)MK_GEMM_KC, k));
    int pack_a = ta && n > MK_GEMM_PACK_A_COLUMNS && n > column_block;
    // A read in place whose rows are a multiple of 2 KB apart (k = 512, 1024, 2048 floats) maps the MR rows
    // into one or two sets of the L1 cache, which then evict each other on every column panel; copying each MR-row
    // sliver to a padded buffer first measured 96-100 against 63-93 GFLOP/s (1024x256x1024, one thread).
    int copy_rows = !ta && lda % MK_GEMM_ALIASING_FLOATS == 0 && n > MK_GEMM_NR;
    // A read in place (or copied, above) is prefetched a sliver ahead (mk_prefetch_rows, into L2) while the kernel
    // works on this one: a tall activation comes from memory or L3, and the hardware's prefetchers do not run ahead
    // on MR rows at once. First for narrow C only, which uses each sliver for few tiles (two threads, AVX-512,
    // operands from memory, GFLOP/s: 16384x64x256 with Bᵀ, small128's first fc2, 172 against 148; 16384x64x64 161
    // against 138); one small128 inference run had a wider product lose (16384x256x64 6.95 against 6.59 ms). At
    // every width, `scripts/gemm-ab BEFORE AFTER --calls 25 [--cold]` (both threads, Zen 4, medians, two runs each
    // way) measured, with AVX-512 and with AVX2: cold, 8192x256x64 with Bᵀ 1.06-1.08x and 1.03-1.10x, 3136x384x96
    // with Bᵀ 1.00-1.05x and 0.93-1.06x, 1024x1024x256 with Bᵀ 1.01x and 1.02-1.04x, 1568x1536x384 with Bᵀ 1.00x
    // and 1.03-1.04x; in cache, 1.02-1.04x and 1.02x, 1.01-1.04x and 1.04-1.09x, 1.00-1.01x and 1.02-1.03x,
    // 1.00x and 1.00-1.02x; 8192x256x64 with the GELU epilogue 1.04x and 1.00-1.03x; no product under 0.99x but
    // one cold AVX2 run of 3136x384x96. Rows copied to the padded buffer: 1568x384x1536 1.00-1.01x with AVX-512 and
    // 1.04x with AVX2, with Bᵀ 1.02x and 1.03x; 1024x256x1024 1.01-1.02x and 1.04-1.05x (cold). Into L1 instead
    // (prefetcht0), no gain. A transposed A read in place (each step's MR values lda apart), prefetched the same way,
    // gained only where its slivers are few (64x192x16384 1.02x and 1.03x) and lost up to 0.7% with AVX-512
    // elsewhere (384x1536x1568, 1536x384x1568, 256x1024x1024, 1024x256x1024), so it is not.
    int prefetch_rows = !ta;
    // With one block of columns nothing reads a packed A block twice: each sliver is packed as the kernel comes to
    // it and read back from L1, instead of from a whole block packed first (1024 x 384 floats, 1.5 MB, past L2),
    // while the next sliver's steps are prefetched into L2. `scripts/gemm-ab BEFORE AFTER --calls 25|31 [--cold]`
    // (Zen 4, both threads, medians), with AVX-512 and with AVX2: cold, 1024x256x1024 Aᵀ 1.02x and 1.00-1.01x,
    // 1536x384x1568 Aᵀ 1.02-1.03x and 1.01-1.02x, 2048x512x256 Aᵀ 1.05x and 1.02x; in cache 1.01x and 1.01x, 1.00x
    // and 1.00x. Without the prefetch, 0.98-1.02x.
    int pack_slivers =
        ta && n > MK_GEMM_PACK_A_COLUMNS && n <= column_block && lda % MK_GEMM_ALIASING_FLOATS == 0;
    for (size_t i0 = 0; i0 < m; i0 += MK_GEMM_MC) {
        size_t mc = MK_GEMM_MIN((size_t)MK_GEMM_MC, m - i0);
        for (size_t p0 = 0; p0 < k; p0 += MK_GEMM_KC) {
            size_t kc = MK_GEMM_MIN((size_t)MK_GEMM_KC, k - p0);
            // The first block of the reduction applies beta; later ones add to it.
            float block_beta = p0 == 0 ? beta : 1;
            // The last block of the reduction completes each sliver of C, which the epilogue then finishes in cache.
            const mk_gemm_epilogue *block_epilogue = p0 + kc >= k ? epilogue : NULL;
            const float *block_bias = p0 == 0 ? bias : NULL;
            const float *a_block = ta ? a + p0 * lda + i0 : a + i0 * lda + p0;
            if (pack_a) mk_gemm_pack_a(ta, a_block, lda, mc, kc, packed_a);
            for (size_t j0 = 0; j0 < n; j0 += column_block) {
                size_t nc = MK_GEMM_MIN(column_block, n - j0);
                mk_gemm_pack_b(tb, tb ? b + j0 * ldb + p0 : b + p0 * ldb + j0, ldb, kc, nc, packed_b);
                for (size_t ir = 0; ir < mc; ir += MK_GEMM_MR) {
                    size_t mr = MK_GEMM_MIN((size_t)MK_GEMM_MR, mc - ir);
                    if (pack_slivers && ir + mr < mc)
                        mk_prefetch_rows(a_block + ir + mr, lda, kc, MK_GEMM_MIN((size_t)MK_GEMM_MR, mc - ir - mr));
                    if (prefetch_rows && ir + mr < mc)
                        mk_prefetch_rows(a_block + (ir + mr) * lda, lda, MK_GEMM_MIN((size_t)MK_GEMM_MR, mc - ir - mr),
                                         kc);
                    float *c_row = c + (i0 + ir) * ldc + j0;
                    if (block_epilogue != NULL && ir + mr < mc)
                        mk_gemm_prefetch_epilogue(block_epilogue, i0 + ir + mr, j0,
                                                  MK_GEMM_MIN((size_t)MK_GEMM_MR, mc - ir - mr), nc);
                    if (pack_a) {
                        for (size_t jr = 0; jr < nc; jr += MK_GEMM_NR)
                            mk_gemm_micro_packed_rows(
                                kc, packed_a + ir * kc, packed_b + jr * kc, c_row + jr, ldc, mr,
                                MK_GEMM_MIN((size_t)MK_GEMM_NR, nc - jr), alpha, block_beta,
                                block_bias != NULL ? block_bias + j0 + jr : NULL);
                    } else if (pack_slivers || mr < MK_GEMM_MR) {
                        // This sliver packed (pack_slivers), or the last rows packed zero-padded so that the kernel
                        // reads no row past m.
                        mk_gemm_pack_a(ta, ta ? a_block + ir : a_block + ir * lda, lda, mr, kc, packed_a);
                        for (size_t jr = 0; jr < nc; jr += MK_GEMM_NR)
                            mk_gemm_micro_packed_rows(
                                kc, packed_a, packed_b + jr * kc, c_row + jr, ldc, mr,
                                MK_GEMM_MIN((size_t)MK_GEMM_NR, nc - jr), alpha, block_beta,
                                block_bias != NULL ? block_bias + j0 + jr : NULL);
                    } else if (ta) {
                        for (size_t jr = 0; jr < nc; jr += MK_GEMM_NR)
                            mk_gemm_micro_columns(
                                kc, a_block + ir, lda, packed_b + jr * kc, c_row + jr, ldc, mr,
                                MK_GEMM_MIN((size_t)MK_GEMM_NR, nc - jr), alpha, block_beta,
                                block_bias != NULL ? block_bias + j0 + jr : NULL);
                    } else if (copy_rows) {
                        // Rows 2 KB apart share L1 sets: copy the MR rows to a padded buffer first.
                        size_t ld = kc + MK_GEMM_ROW_PAD;
                        for (size_t i = 0; i < MK_GEMM_MR; i++)
                            memcpy(packed_a + i * ld, a_block + (ir + i) * lda, sizeof(float) * kc);
                        for (size_t jr = 0; jr < nc; jr += MK_GEMM_NR)
                            mk_gemm_micro_padded_rows(
                                kc, packed_a, ld, packed_b + jr * kc, c_row + jr, ldc, mr,
                                MK_GEMM_MIN((size_t)MK_GEMM_NR, nc - jr), alpha, block_beta,
                                block_bias != NULL ? block_bias + j0 + jr : NULL);
                    } else {
                        for (size_t jr = 0; jr < nc; jr += MK_GEMM_NR)
                            mk_gemm_micro_rows(
                                kc, a_block + ir * lda, lda, packed_b + jr * kc, c_row + jr, ldc, mr,
                                MK_GEMM_MIN((size_t)MK_GEMM_NR, nc - jr), alpha, block_beta,
                                block_bias != NULL ? block_bias + j0 + jr : NULL);
                    }
                    if (block_epilogue != NULL)
                        mk_gemm_epilogue_block(block_epilogue, c_row, ldc, i0 + ir, j0, mr, nc);
                }
            }
        }
    }
    return 1;
}

static int mk_sgemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                    const float *b, size_t ldb, float beta, float *c, size_t ldc, const float *bias) {
    return mk_sgemm_epilogue(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, NULL);
}

#else

static int mk_sgemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                    const float *b, size_t ldb, float beta, float *c, size_t ldc, const float *bias) {
    (void)bias, (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb, (void)beta;
    (void)c, (void)ldc;
    return 0;
}

static int mk_sgemm_epilogue(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                             const float *b, size_t ldb, float beta, float *c, size_t ldc, const float *bias,
                             const mk_gemm_epilogue *epilogue) {
    (void)epilogue;
    return mk_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias);
}

#endif
