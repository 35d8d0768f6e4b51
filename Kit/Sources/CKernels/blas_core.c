// Matches OpenBLAS's GEMM kernels to the CPU (see include/blas_core.h).
#include "blas_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

// OpenBLAS built with DYNAMIC_ARCH exports these. Weak, so MixKit still links
// and runs against a BLAS that lacks them (then nothing is switched).
extern char *openblas_get_corename(void) __attribute__((weak));
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static const char *const avx512_cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids", NULL};
static const char *const avx2_cores[] = {"Haswell", "Zen", NULL};

static int listed(const char *const *cores, const char *name) {
    for (; *cores; cores++)
        if (strcasecmp(*cores, name) == 0) return 1;
    return 0;
}

// 2: AVX-512 GEMM kernels, 1: AVX2 kernels, 0: older (SSE, AVX without FMA) or unknown.
static int core_level(const char *name) {
    if (listed(avx512_cores, name)) return 2;
    if (listed(avx2_cores, name)) return 1;
    return 0;
}

static char chosen_by_openblas[32];
static char note[256];

const char *mk_blas_core(void) {
    if (openblas_get_corename == NULL) return "";
    const char *name = openblas_get_corename();
    return name ? name : "";
}

const char *mk_blas_core_note(void) { return note; }

// Asks OpenBLAS to choose again, as if OPENBLAS_CORETYPE=`core` had been set at start.
static int switch_core(const char *core) {
    if (gotoblas_dynamic_init == NULL || gotoblas_dynamic_quit == NULL) return 0;
    setenv("OPENBLAS_CORETYPE", core, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
    return strcasecmp(mk_blas_core(), core) == 0;
}

void mk_blas_match_kernel_path(int path, int path_forced) {
    const char *current = mk_blas_core();
    if (current[0] == 0) return;
    snprintf(chosen_by_openblas, sizeof chosen_by_openblas, "%s", current);
    const char *user_choice = getenv("OPENBLAS_CORETYPE");
    if (user_choice && user_choice[0]) {
        snprintf(note, sizeof note, "OPENBLAS_CORETYPE=%s", user_choice);
        return;
    }
    int have = core_level(current);
    const char *target = NULL;
    if (path == MK_BLAS_PATH_AVX512 && have < 2) target = "SkylakeX";
    if (path == MK_BLAS_PATH_AVX2 && (have < 1 || (path_forced && have > 1))) target = "Haswell";
    if (target == NULL) return;
    if (switch_core(target)) {
        snprintf(note, sizeof note, "OpenBLAS chose %s for this CPU; switched to %s to match the %s kernels",
                 chosen_by_openblas, target, path == MK_BLAS_PATH_AVX512 ? "avx512" : "avx2");
    } else {
        snprintf(note, sizeof note, "OpenBLAS chose %s for this CPU and could not switch to %s", chosen_by_openblas,
                 target);
    }
}
