#ifndef MIXKIT_KERNEL_OPS_H
#define MIXKIT_KERNEL_OPS_H
// Operation codes of mk_binary and mk_unary, and the attention kernels' head dimension.

enum { MK_ADD = 0, MK_SUB = 1, MK_MUL = 2, MK_DIV = 3, MK_MAX = 4, MK_MIN = 5 };

enum { MK_EXP = 0, MK_LOG = 1, MK_SQRT = 2, MK_TANH = 3, MK_ERF = 4, MK_NEG = 5, MK_ABS = 6,
       MK_RELU = 7, MK_SIGMOID = 8, MK_RSQRT = 9, MK_SQUARE = 10, MK_RECIP = 11 };

// The head dimension of mk_attention_scores and mk_attention_apply (every Swin and MixMAE stage's).
enum { MK_ATTENTION_HEAD_DIM = 32 };

#endif
