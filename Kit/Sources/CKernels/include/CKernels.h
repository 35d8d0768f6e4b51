#ifndef MIXKIT_CKERNELS_H
#define MIXKIT_CKERNELS_H
#include <stddef.h>
#include <stdint.h>
float mk_sum(const float *x, size_t n);
#endif
