#ifndef MIXKIT_CPU_DISPATCH_H
#define MIXKIT_CPU_DISPATCH_H
// Run-time choice of the instruction set the kernels use.
//
// Every mk_* kernel exists three times: a portable build (the compiler's
// baseline: SSE2 on x86-64, or whatever the target is elsewhere), one for
// AVX2+FMA and one for AVX-512 (F, BW, VL, DQ). The first kernel call, or
// loading the library, picks the fastest path the CPU and the operating
// system support. The environment variable MIXMAE_CPU (portable, avx2,
// avx512; empty or "auto" for the automatic choice) forces a path; a value
// that is unknown, or names a path this CPU lacks, ends the process with
// exit status 2 and a message on standard error saying what to set instead.
// MIXMAE_CPU_HIDE (CPU feature names, such as "avx512f") makes the choice
// treat those features as absent, to see what another machine would run.
#include <stddef.h>

enum { MK_PATH_PORTABLE = 0, MK_PATH_AVX2 = 1, MK_PATH_AVX512 = 2, MK_PATH_COUNT = 3 };

// The path the kernels run now.
int mk_cpu_path(void);
// The fastest path this CPU supports (what the automatic choice takes).
int mk_cpu_best_path(void);
// 1 when this CPU (and the OS, for the wider registers) supports `path`.
int mk_cpu_path_supported(int path);
// Switches every later kernel call to `path`. Returns 0, or -1 (and changes
// nothing) when the path is unknown or unsupported. Calls that already
// started finish on the path they began with.
int mk_cpu_select(int path);
// Like mk_cpu_select, for kernel calls made by the calling thread only (work
// a caller hands to other threads runs on their path); -1 returns the thread
// to the process-wide path.
int mk_cpu_select_thread(int path);
// "portable", "avx2", "avx512"; NULL for an unknown path.
const char *mk_cpu_path_name(int path);
// The CPU features `path` needs that this CPU lacks, space-separated ("" when none).
const char *mk_cpu_missing_features(int path);
// The instruction-set extensions this CPU reports, among those the paths use,
// space-separated (for example "sse2 sse4.2 avx avx2 fma avx512f ...").
const char *mk_cpu_feature_list(void);

// The dispatched kernels by name (for tests that must cover each one).
size_t mk_kernel_count(void);
const char *mk_kernel_name(size_t index);

#endif
