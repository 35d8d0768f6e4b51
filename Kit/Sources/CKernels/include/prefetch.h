#ifndef MIXKIT_PREFETCH_H
#define MIXKIT_PREFETCH_H
#include <stddef.h>

// Asks for `rows` rows of `columns` floats (rows ld floats apart) to be brought into the L2 cache, without
// waiting: for data the caller reads next, in a pattern the hardware's prefetchers do not follow (the next
// twelve rows of a GEMM's A, the strided slices of one attention head in a packed qkv). A hint, the same on
// every kernel path: it reads and writes nothing.
static inline void mk_prefetch_rows(const float *p, size_t ld, size_t rows, size_t columns) {
    if (columns == 0) return;
    for (size_t i = 0; i < rows; i++) {
        const float *row = p + i * ld;
        for (size_t j = 0; j < columns; j += 64 / sizeof(float)) __builtin_prefetch(row + j, 0, 2);
        __builtin_prefetch(row + columns - 1, 0, 2);
    }
}

#endif
