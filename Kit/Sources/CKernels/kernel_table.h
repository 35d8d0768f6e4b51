#ifndef MIXKIT_KERNEL_TABLE_H
#define MIXKIT_KERNEL_TABLE_H
// One path's kernels as function pointers: the table dispatch.c calls through.
#include "kernel_list.h"

typedef struct mk_kernel_table {
#define MK_TABLE_FIELD(ret, name, params, args) ret(*name) params;
    MK_KERNELS(MK_TABLE_FIELD)
#undef MK_TABLE_FIELD
} mk_kernel_table;

// Fills a table with the static functions of the including file.
#define MK_TABLE_ENTRY(ret, name, params, args) .name = name,
#define MK_DEFINE_KERNEL_TABLE(table) const mk_kernel_table table = {MK_KERNELS(MK_TABLE_ENTRY)};

extern const mk_kernel_table mk_kernels_portable;
#if defined(__x86_64__) || defined(__i386__)
#define MK_X86 1
extern const mk_kernel_table mk_kernels_avx2;
extern const mk_kernel_table mk_kernels_avx512;
#endif

#endif
