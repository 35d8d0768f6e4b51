// Picks the kernels' instruction set once at start and forwards every public
// mk_* function to the active path's table (see include/cpu_dispatch.h).
#include "CKernels.h"
#include "blas_core.h"
#include "kernel_table.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const path_names[MK_PATH_COUNT] = {"portable", "avx2", "avx512"};

// MARK: - What the CPU supports

#ifdef MK_X86
// Each feature a path needs, as __builtin_cpu_supports names it. It checks
// CPUID and, for AVX and AVX-512, that the OS saves the wider registers.
#define MK_CPU_FEATURES(X) \
    X(sse2) X(sse4.2) X(avx) X(avx2) X(fma) X(avx512f) X(avx512bw) X(avx512vl) X(avx512dq)
#define MK_STRINGIFY(f) #f

// True when `list` (separated by spaces or commas) holds `name`.
static int list_contains(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, " ,");
        if (len == n && strncmp(p, name, n) == 0) return 1;
        p += len;
        p += strspn(p, " ,");
    }
    return 0;
}

// MIXMAE_CPU_HIDE="avx512f avx2" makes the kernels treat those features as
// absent: a way to see what a machine without them would run.
static int has_feature(const char *name) {
    if (list_contains(getenv("MIXMAE_CPU_HIDE"), name)) return 0;
#define MK_CHECK_FEATURE(f) \
    if (strcmp(name, MK_STRINGIFY(f)) == 0) return __builtin_cpu_supports(MK_STRINGIFY(f)) != 0;
    MK_CPU_FEATURES(MK_CHECK_FEATURE)
#undef MK_CHECK_FEATURE
    return 0;
}

static const char *const avx2_needs[] = {"avx2", "fma", NULL};
static const char *const avx512_needs[] = {"avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", NULL};
#endif

static const char *const *path_needs(int path) {
#ifdef MK_X86
    if (path == MK_PATH_AVX2) return avx2_needs;
    if (path == MK_PATH_AVX512) return avx512_needs;
#endif
    return NULL;
}

static const mk_kernel_table *path_table(int path) {
    switch (path) {
    case MK_PATH_PORTABLE: return &mk_kernels_portable;
#ifdef MK_X86
    case MK_PATH_AVX2: return &mk_kernels_avx2;
    case MK_PATH_AVX512: return &mk_kernels_avx512;
#endif
    default: return NULL;
    }
}

static char missing[MK_PATH_COUNT][128];
static int supported[MK_PATH_COUNT];
static char feature_list[160];
static int best_path;

// Fills `missing`, `supported`, `feature_list` and `best_path`; runs once.
static void probe_cpu(void) {
#ifdef MK_X86
    __builtin_cpu_init();
#endif
    for (int path = 0; path < MK_PATH_COUNT; path++) {
        missing[path][0] = 0;
        const char *const *needs = path_needs(path);
        int ok = path_table(path) != NULL;
#ifdef MK_X86
        for (; needs && *needs; needs++) {
            if (has_feature(*needs)) continue;
            ok = 0;
            if (missing[path][0]) strncat(missing[path], " ", sizeof missing[path] - strlen(missing[path]) - 1);
            strncat(missing[path], *needs, sizeof missing[path] - strlen(missing[path]) - 1);
        }
#else
        (void)needs;
        if (!ok) snprintf(missing[path], sizeof missing[path], "an x86-64 CPU");
#endif
        supported[path] = ok;
        if (ok) best_path = path;
    }
    feature_list[0] = 0;
#ifdef MK_X86
#define MK_LIST_FEATURE(f)                                                                        \
    if (has_feature(MK_STRINGIFY(f))) {                                                           \
        if (feature_list[0]) strncat(feature_list, " ", sizeof feature_list - strlen(feature_list) - 1); \
        strncat(feature_list, MK_STRINGIFY(f), sizeof feature_list - strlen(feature_list) - 1);  \
    }
    MK_CPU_FEATURES(MK_LIST_FEATURE)
#undef MK_LIST_FEATURE
#endif
}

// MARK: - The active path

static _Atomic(const mk_kernel_table *) active_table;
static atomic_int active_path;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

// Writes the supported paths, fastest first, as "avx2, portable".
static void describe_supported(char *out, size_t size) {
    out[0] = 0;
    for (int path = MK_PATH_COUNT - 1; path >= 0; path--) {
        if (!supported[path]) continue;
        if (out[0]) strncat(out, ", ", size - strlen(out) - 1);
        strncat(out, path_names[path], size - strlen(out) - 1);
    }
}

// The path MIXMAE_CPU asks for, the automatic choice when it is unset, empty
// or "auto"; ends the process with a message for anything it cannot honour.
static int requested_path(void) {
    const char *value = getenv("MIXMAE_CPU");
    if (value == NULL || value[0] == 0 || strcmp(value, "auto") == 0) return best_path;
    char runs[64];
    describe_supported(runs, sizeof runs);
    for (int path = 0; path < MK_PATH_COUNT; path++) {
        if (strcmp(value, path_names[path]) != 0) continue;
        if (supported[path]) return path;
        fprintf(stderr,
                "mixmae: MIXMAE_CPU=%s asks for the %s kernels, but this CPU lacks %s.\n"
                "This CPU runs: %s. Unset MIXMAE_CPU (or set it to auto) to use the fastest, or set it to one of "
                "those.\n",
                value, path_names[path], missing[path], runs);
        exit(2);
    }
    fprintf(stderr,
            "mixmae: MIXMAE_CPU=%s is not a kernel path: use portable, avx2 or avx512, or auto (the fastest this "
            "CPU runs: %s).\n",
            value, path_names[best_path]);
    exit(2);
}

static void initialize(void) {
    probe_cpu();
    int path = requested_path();
    atomic_store(&active_path, path);
    atomic_store_explicit(&active_table, path_table(path), memory_order_release);
    const char *forced = getenv("MIXMAE_CPU");
    mk_blas_match_kernel_path(path, forced != NULL && forced[0] != 0 && strcmp(forced, "auto") != 0);
}

// Chooses at load time, so a bad MIXMAE_CPU stops the process before it does any work.
__attribute__((constructor)) static void initialize_at_load(void) { pthread_once(&init_once, initialize); }

// A path forced for the calling thread only (mk_cpu_select_thread), or NULL.
static _Thread_local const mk_kernel_table *thread_table;

static inline const mk_kernel_table *table(void) {
    const mk_kernel_table *t = thread_table;
    if (t != NULL) return t;
    t = atomic_load_explicit(&active_table, memory_order_acquire);
    if (__builtin_expect(t == NULL, 0)) {
        pthread_once(&init_once, initialize);
        t = atomic_load_explicit(&active_table, memory_order_acquire);
    }
    return t;
}

static _Thread_local int thread_path = -1;

int mk_cpu_path(void) {
    (void)table();
    return thread_path >= 0 ? thread_path : atomic_load(&active_path);
}

int mk_cpu_best_path(void) {
    (void)table();
    return best_path;
}

int mk_cpu_path_supported(int path) {
    (void)table();
    return path >= 0 && path < MK_PATH_COUNT && supported[path];
}

int mk_cpu_select(int path) {
    if (!mk_cpu_path_supported(path)) return -1;
    atomic_store(&active_path, path);
    atomic_store_explicit(&active_table, path_table(path), memory_order_release);
    return 0;
}

int mk_cpu_select_thread(int path) {
    if (path < 0) {
        thread_table = NULL;
        thread_path = -1;
        return 0;
    }
    if (!mk_cpu_path_supported(path)) return -1;
    thread_table = path_table(path);
    thread_path = path;
    return 0;
}

const char *mk_cpu_path_name(int path) { return path >= 0 && path < MK_PATH_COUNT ? path_names[path] : NULL; }

const char *mk_cpu_missing_features(int path) {
    (void)table();
    return path >= 0 && path < MK_PATH_COUNT ? missing[path] : "";
}

const char *mk_cpu_feature_list(void) {
    (void)table();
    return feature_list;
}

// MARK: - The public kernels

#define MK_RETURN_void
#define MK_RETURN_double return
#define MK_RETURN_int return
#define MK_FORWARD(ret, name, params, args) \
    ret name params { MK_RETURN_##ret table()->name args; }
MK_KERNELS(MK_FORWARD)
#undef MK_FORWARD

#define MK_NAME(ret, name, params, args) #name,
static const char *const kernel_names[] = {MK_KERNELS(MK_NAME)};
#undef MK_NAME

size_t mk_kernel_count(void) { return sizeof kernel_names / sizeof kernel_names[0]; }

const char *mk_kernel_name(size_t index) { return index < mk_kernel_count() ? kernel_names[index] : NULL; }
