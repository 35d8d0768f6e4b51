// The kernels compiled for AVX-512 (F, BW, VL, DQ), only on x86: every function in this
// file carries the target attribute, so nothing outside it uses these
// instructions, and dispatch.c calls it only on a CPU that has them.
#include "kernel_table.h"

#ifdef MK_X86
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <immintrin.h>
#include <pthread.h>

// mk_sgemm's micro-tile: 12 rows x 32 columns (24 of the 32 vector registers hold C).
#define MK_GEMM_VW 16
#define MK_GEMM_MR 12
typedef __m512 mk_gemm_vec;
#define MK_GEMM_LOAD(p) _mm512_loadu_ps(p)
#define MK_GEMM_STORE(p, v) _mm512_storeu_ps(p, v)
#define MK_GEMM_SET1(x) _mm512_set1_ps(x)
#define MK_GEMM_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define MK_GEMM_MUL(a, b) _mm512_mul_ps(a, b)
#define MK_GEMM_ZERO() _mm512_setzero_ps()

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#endif

#include "kernels_impl.h"
#include "dense_impl.h"
#include "gemm_impl.h"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

MK_DEFINE_KERNEL_TABLE(mk_kernels_avx512)
#endif
