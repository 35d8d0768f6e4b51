// Two builds of MixKit's GEMM (or attention products) called in turn in one process (see scripts/gemm-ab for usage
// and why).
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemm_epilogue.h"

typedef int (*sgemm_fn)(int, int, size_t, size_t, size_t, float, const float *, size_t, const float *, size_t, float,
                        float *, size_t, const float *);
typedef int (*sgemm_epilogue_fn)(int, int, size_t, size_t, size_t, float, const float *, size_t, const float *,
                                 size_t, float, float *, size_t, const float *, const mk_gemm_epilogue *);
typedef int (*scores_fn)(const float *, size_t, const float *, size_t, size_t, float, float *, size_t, float *);
typedef int (*apply_fn)(const float *, size_t, int, const float *, size_t, size_t, float, float *, size_t);
typedef int (*select_fn)(int);
typedef int (*supported_fn)(int);

// One build: its GEMM, its attention products and the per-thread choice of kernel path.
typedef struct {
    sgemm_fn sgemm;
    sgemm_epilogue_fn sgemm_epilogue;
    scores_fn scores;
    apply_fn apply;
    select_fn select_thread;
    supported_fn path_supported;
} build;

// What a product computes: a GEMM, or one of attention's per-head products over HEADS heads of `len` tokens.
typedef enum { GEMM, SCORES, APPLY, APPLY_TRANSPOSED } kind;

// What a GEMM does to each block of C as it completes (gemm_epilogue.h), as the models' layers ask: nothing; add a
// residual; multiply by GELU's kept slope (an MLP's hidden gradient); GELU in place (fc1 in inference); GELU into a
// tensor of its own and its slope over C (fc1 in training).
typedef enum { PLAIN, RESIDUAL, FACTOR, GELU, GELU_SLOPE } epilogue_kind;
static const char *epilogue_names[] = {"", "residual", "factor", "gelu", "gelu-slope"};

// One product: C (m x n) = op(A) op(B), k deep, then its epilogue, or (attention) m = n = len tokens and k = the
// head dimension; every compute thread runs its own copy.
typedef struct {
    kind what;
    int ta, tb;
    size_t m, n, k;
    epilogue_kind epilogue;
} shape;

// Attention products: (window, head) pairs per call, read from a packed qkv as the attention op reads it (windows of
// 3 heads of 32 dimensions, as tiny224's first stage: a token's row is q, k and v of every head, 288 floats), and
// the head dimension.
enum { THREADS = 2, HEADS = 64, WINDOW_HEADS = 3, HEAD_DIM = 32, WIDTH = WINDOW_HEADS * HEAD_DIM, QKV_WIDTH = 3 * WIDTH };
enum { WINDOWS = (HEADS + WINDOW_HEADS - 1) / WINDOW_HEADS };

static build builds[2];
static shape current;
static float *a[THREADS], *b[THREADS], *c[THREADS], *scratch[THREADS], *operand[THREADS];
static int turn_build, turn_path, stop;
static double seconds[THREADS];
static int declined;
static pthread_barrier_t barrier;
// With `cold`, each thread writes over a buffer of its own larger than the last-level cache before every call, so
// that the call meets its operands in memory, as a training step meets a layer's saved activations and weights.
enum { EVICT_BYTES = 48 << 20 };
static int cold;
static char *evict[THREADS];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *worker(void *argument) {
    int id = (int)(long)argument;
    for (;;) {
        pthread_barrier_wait(&barrier);
        if (stop) return NULL;
        const build *it = &builds[turn_build];
        it->select_thread(turn_path);
        shape s = current;
        size_t lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
        if (cold) memset(evict[id], turn_build + 1, EVICT_BYTES);
        pthread_barrier_wait(&barrier);
        double start = now();
        if (s.what == GEMM && s.epilogue == PLAIN) {
            if (!it->sgemm(s.ta, s.tb, s.m, s.n, s.k, 1, a[id], lda, b[id], ldb, 0, c[id], s.n, NULL)) declined = 1;
        } else if (s.what == GEMM) {
            mk_gemm_epilogue ep = {0};
            if (s.epilogue == RESIDUAL) ep.addend = operand[id], ep.ld_addend = s.n;
            if (s.epilogue == FACTOR) ep.factor = operand[id], ep.ld_factor = s.n;
            if (s.epilogue == GELU) ep.gelu_out = c[id], ep.ld_gelu_out = s.n;
            if (s.epilogue == GELU_SLOPE)
                ep.gelu_out = operand[id], ep.ld_gelu_out = s.n, ep.slope_out = c[id], ep.ld_slope_out = s.n;
            if (!it->sgemm_epilogue(s.ta, s.tb, s.m, s.n, s.k, 1, a[id], lda, b[id], ldb, 0, c[id], s.n, NULL, &ep))
                declined = 1;
        } else {
            // a: the windows' qkv; b: one head's [len x len] scores or probabilities; c: the windows' outputs.
            size_t len = s.m;
            for (size_t i = 0; i < HEADS && !declined; i++) {
                size_t window = i / WINDOW_HEADS, head = i % WINDOW_HEADS;
                const float *q = a[id] + window * len * QKV_WIDTH + head * HEAD_DIM;
                float *out = c[id] + window * len * WIDTH + head * HEAD_DIM;
                int done = s.what == SCORES
                               ? it->scores(q, QKV_WIDTH, q + WIDTH, QKV_WIDTH, len, 0.17f, b[id], len, scratch[id])
                               : it->apply(b[id], len, s.what == APPLY_TRANSPOSED, q + 2 * WIDTH, QKV_WIDTH, len, 1,
                                           out, WIDTH);
                if (!done) declined = 1;
            }
        }
        seconds[id] = now() - start;
        pthread_barrier_wait(&barrier);
    }
}

static float *random_floats(size_t count) {
    float *p = aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64);
    if (p == NULL) {
        fprintf(stderr, "gemm-ab: out of memory for %zu floats\n", count);
        exit(1);
    }
    for (size_t i = 0; i < count; i++) p[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return p;
}

static void load(build *it, const char *path) {
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        fprintf(stderr, "gemm-ab: cannot load %s: %s\n", path, dlerror());
        exit(1);
    }
    it->sgemm = (sgemm_fn)dlsym(library, "mk_sgemm");
    it->sgemm_epilogue = (sgemm_epilogue_fn)dlsym(library, "mk_sgemm_epilogue");
    it->scores = (scores_fn)dlsym(library, "mk_attention_scores");
    it->apply = (apply_fn)dlsym(library, "mk_attention_apply");
    it->select_thread = (select_fn)dlsym(library, "mk_cpu_select_thread");
    it->path_supported = (supported_fn)dlsym(library, "mk_cpu_path_supported");
    if (it->sgemm == NULL || it->sgemm_epilogue == NULL || it->scores == NULL || it->apply == NULL ||
        it->select_thread == NULL || it->path_supported == NULL) {
        fprintf(stderr,
                "gemm-ab: %s lacks mk_sgemm, mk_sgemm_epilogue, mk_attention_scores, mk_attention_apply, "
                "mk_cpu_select_thread or mk_cpu_path_supported\n",
                path);
        exit(1);
    }
}

// "MxNxK", with " Aᵀ" and " Bᵀ" for the transposed operands, or "scores q kᵀ, 196 tokens x64 heads":
// the table's and the messages' name of a product.
static const char *describe(shape s) {
    static char text[112];
    static const char *names[] = {"", "scores q kᵀ", "apply p v", "apply pᵀ v"};
    if (s.what == GEMM)
        snprintf(text, sizeof text, "%zux%zux%zu%s%s%s%s", s.m, s.n, s.k, s.ta ? " Aᵀ" : "", s.tb ? " Bᵀ" : "",
                 s.epilogue != PLAIN ? ", " : "", epilogue_names[s.epilogue]);
    else
        snprintf(text, sizeof text, "%s, %zu tokens x%d heads", names[s.what], s.m, HEADS);
    return text;
}

static const char *path_name(int path) { return path == 2 ? "avx512" : "avx2"; }

static int by_value(const void *x, const void *y) {
    double p = *(const double *)x, q = *(const double *)y;
    return p < q ? -1 : p > q;
}

// Times `calls` calls of each (build, path) in turn; prints one table row per path.
static void measure(shape s, const int *paths, int path_count, int calls) {
    current = s;
    for (int t = 0; t < THREADS; t++) {
        if (s.what == GEMM) {
            a[t] = random_floats(s.m * s.k);
            b[t] = random_floats(s.k * s.n);
            c[t] = random_floats(s.m * s.n);
            scratch[t] = NULL;
            operand[t] = s.epilogue != PLAIN ? random_floats(s.m * s.n) : NULL;
        } else {
            // A softmax's rows: positive and below 1, as the products meet them.
            a[t] = random_floats(WINDOWS * s.m * QKV_WIDTH);
            b[t] = random_floats(s.m * s.m);
            for (size_t i = 0; i < s.m * s.m; i++) b[t][i] = (b[t][i] + 0.5f) / (float)s.m;
            c[t] = random_floats(WINDOWS * s.m * WIDTH);
            scratch[t] = random_floats(HEAD_DIM * (s.m + HEAD_DIM));
            operand[t] = NULL;
        }
    }
    int slots = 2 * path_count;
    double *times = calloc((size_t)(slots * calls), sizeof(double));
    for (int round = -1; round < calls; round++) {
        for (int slot = 0; slot < slots; slot++) {
            turn_path = paths[slot / 2];
            turn_build = slot % 2;
            pthread_barrier_wait(&barrier);
            pthread_barrier_wait(&barrier);
            pthread_barrier_wait(&barrier);
            if (declined) {
                fprintf(stderr,
                        s.what == GEMM ? "gemm-ab: %s goes to the BLAS in these builds (MixKit's kernel declines it: "
                                         "with B transposed it takes 128 rows or more); give a product it runs\n"
                                       : "gemm-ab: %s: these builds' path has no attention kernels\n",
                        describe(s));
                exit(1);
            }
            double slowest = seconds[0] > seconds[1] ? seconds[0] : seconds[1];
            if (round >= 0) times[slot * calls + round] = slowest;
        }
    }
    double flop = 2.0 * (double)(s.m * s.n * s.k) * THREADS * (s.what == GEMM ? 1 : HEADS);
    for (int p = 0; p < path_count; p++) {
        double rate[2][2];
        for (int which = 0; which < 2; which++) {
            double *series = times + (2 * p + which) * calls;
            qsort(series, (size_t)calls, sizeof(double), by_value);
            rate[which][0] = flop / series[calls / 2] / 1e9;
            rate[which][1] = flop / series[0] / 1e9;
        }
        printf("| %s | %s | %.1f | %.1f | %.1f | %.1f | %.3f |\n", describe(s), path_name(paths[p]), rate[0][0],
               rate[0][1], rate[1][0], rate[1][1], rate[1][0] / rate[0][0]);
        fflush(stdout);
    }
    for (int t = 0; t < THREADS; t++) free(a[t]), free(b[t]), free(c[t]), free(scratch[t]), free(operand[t]);
    free(times);
}

// What follows a product's TA,TB,M,N,K: nothing, or a comma and an epilogue's name. 0 when it is neither.
static int parse_epilogue(const char *rest, epilogue_kind *epilogue) {
    if (*rest == '\0') return *epilogue = PLAIN, 1;
    if (*rest != ',') return 0;
    for (int e = RESIDUAL; e <= GELU_SLOPE; e++)
        if (strcmp(rest + 1, epilogue_names[e]) == 0) return *epilogue = (epilogue_kind)e, 1;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: gemm-ab LIB_A LIB_B CALLS PATHS warm|cold [TA,TB,M,N,K ...]\n");
        return 2;
    }
    load(&builds[0], argv[1]);
    load(&builds[1], argv[2]);
    if (builds[0].sgemm == builds[1].sgemm) {
        fprintf(stderr, "gemm-ab: both paths loaded one library; give two different files\n");
        return 1;
    }
    int calls = atoi(argv[3]);
    if (calls < 1) {
        fprintf(stderr, "gemm-ab: calls must be 1 or more, not %s\n", argv[3]);
        return 2;
    }
    int paths[2], path_count = 0;
    if (strstr(argv[4], "avx2") != NULL) paths[path_count++] = 1;
    if (strstr(argv[4], "avx512") != NULL) paths[path_count++] = 2;
    if (path_count == 0) {
        fprintf(stderr, "gemm-ab: paths must name avx2, avx512 or both, not %s\n", argv[4]);
        return 2;
    }
    for (int p = 0; p < path_count; p++)
        if (!builds[0].path_supported(paths[p])) {
            fprintf(stderr, "gemm-ab: this CPU lacks the %s path; leave it out of --paths\n", path_name(paths[p]));
            return 1;
        }
    if (strcmp(argv[5], "cold") == 0) {
        cold = 1;
        for (int t = 0; t < THREADS; t++) {
            evict[t] = malloc(EVICT_BYTES);
            if (evict[t] == NULL) {
                fprintf(stderr, "gemm-ab: out of memory for the cold runs' eviction buffers\n");
                return 1;
            }
        }
    } else if (strcmp(argv[5], "warm") != 0) {
        fprintf(stderr, "gemm-ab: the cache mode must be warm or cold, not %s\n", argv[5]);
        return 2;
    }
    pthread_barrier_init(&barrier, NULL, THREADS + 1);
    pthread_t threads[THREADS];
    for (long t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, worker, (void *)t);
    printf("| product (each thread its own) | path | A median GFLOP/s | A best | B median GFLOP/s | B best | B/A (medians) |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- |\n");
    for (int i = 6; i < argc; i++) {
        shape s = {GEMM, 0, 0, 0, 0, 0, PLAIN};
        char name[16];
        size_t len = 0;
        int end = 0;
        if (sscanf(argv[i], "%15[a-z-],%zu%n", name, &len, &end) == 2 && argv[i][end] == '\0') {
            s.what = strcmp(name, "scores") == 0    ? SCORES
                     : strcmp(name, "apply") == 0   ? APPLY
                     : strcmp(name, "apply-t") == 0 ? APPLY_TRANSPOSED
                                                    : GEMM;
            s.m = s.n = len;
            s.k = HEAD_DIM;
            if (s.what == GEMM || len == 0 || len > 1024) {
                fprintf(stderr,
                        "gemm-ab: an attention product is scores,LEN, apply,LEN or apply-t,LEN with 1 to 1024 "
                        "tokens (for example scores,196), not %s\n",
                        argv[i]);
                return 2;
            }
        } else if (sscanf(argv[i], "%d,%d,%zu,%zu,%zu%n", &s.ta, &s.tb, &s.m, &s.n, &s.k, &end) != 5 ||
                   s.m == 0 || s.n == 0 || s.k == 0 || !parse_epilogue(argv[i] + end, &s.epilogue)) {
            fprintf(stderr,
                    "gemm-ab: a product is TA,TB,M,N,K with optionally ,residual ,factor ,gelu or ,gelu-slope (for "
                    "example 0,1,512,1024,256 or 0,1,1024,1024,256,gelu-slope) or an attention product (scores,196, "
                    "apply,196 or apply-t,196), not %s\n",
                    argv[i]);
            return 2;
        }
        measure(s, paths, path_count, calls);
    }
    stop = 1;
    pthread_barrier_wait(&barrier);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    return 0;
}
