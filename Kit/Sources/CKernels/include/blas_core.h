#ifndef MIXKIT_BLAS_CORE_H
#define MIXKIT_BLAS_CORE_H
// OpenBLAS picks its GEMM kernels from the CPU model at start. A model newer
// than the installed OpenBLAS knows (for example OpenBLAS 0.3.21 on an Intel
// model 207) falls back to its SSE3 "Prescott" kernels, 2.5-4x slower than the
// AVX-512 ones the CPU runs. When the SDK loads, after choosing its own kernel
// path, it asks an OpenBLAS built with DYNAMIC_ARCH for the kernels that match
// the path: SkylakeX for avx512, Haswell for avx2 (also when MIXMAE_CPU=avx2
// forces avx2 on an AVX-512 CPU, to imitate an AVX2 machine). The portable path
// keeps OpenBLAS's own choice, and so does a process started with
// OPENBLAS_CORETYPE set: the user's choice wins.

// Path codes, as in cpu_dispatch.h.
enum { MK_BLAS_PATH_PORTABLE = 0, MK_BLAS_PATH_AVX2 = 1, MK_BLAS_PATH_AVX512 = 2 };

// Called once at load by the kernel dispatch with the chosen path, and whether MIXMAE_CPU forced it.
void mk_blas_match_kernel_path(int path, int path_forced);
// The OpenBLAS kernels in use ("SkylakeX", "Haswell", "Prescott", ...); "" when the BLAS is not OpenBLAS.
const char *mk_blas_core(void);
// What was done at load, such as "OpenBLAS chose Prescott for this CPU; switched to SkylakeX to match the
// avx512 kernels" or "OPENBLAS_CORETYPE=Haswell"; "" when OpenBLAS's own choice was kept.
const char *mk_blas_core_note(void);
#endif
