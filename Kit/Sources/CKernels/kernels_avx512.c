// The kernels compiled for AVX-512 (F, BW, VL, DQ), only on x86: every function in this
// file carries the target attribute, so nothing outside it uses these
// instructions, and dispatch.c calls it only on a CPU that has them.
#include "kernel_table.h"

#ifdef MK_X86
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#endif

#include "kernels_impl.h"
#include "dense_impl.h"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

MK_DEFINE_KERNEL_TABLE(mk_kernels_avx512)
#endif
