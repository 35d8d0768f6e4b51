// The kernels compiled for AVX2 and FMA, only on x86: every function in this
// file carries the target attribute, so nothing outside it uses these
// instructions, and dispatch.c calls it only on a CPU that has them.
#include "kernel_table.h"

#ifdef MK_X86
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <immintrin.h>
#include <pthread.h>

// mk_sgemm's micro-tile: 6 rows x 16 columns (12 of the 16 vector registers hold C).
#define MK_GEMM_VW 8
#define MK_GEMM_MR 6
typedef __m256 mk_gemm_vec;
#define MK_GEMM_LOAD(p) _mm256_loadu_ps(p)
#define MK_GEMM_STORE(p, v) _mm256_storeu_ps(p, v)
#define MK_GEMM_SET1(x) _mm256_set1_ps(x)
#define MK_GEMM_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define MK_GEMM_MUL(a, b) _mm256_mul_ps(a, b)
#define MK_GEMM_ZERO() _mm256_setzero_ps()

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#include "kernels_impl.h"
#include "dense_impl.h"
#include "gemm_impl.h"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

MK_DEFINE_KERNEL_TABLE(mk_kernels_avx2)
#endif
