// The kernels for any CPU: the compiler's baseline instruction set (SSE2 on
// x86-64), as the package's C flags give it.
#include "kernel_table.h"

#include "kernels_impl.h"
#include "dense_impl.h"
#include "gemm_impl.h"
#include "attention_impl.h"

MK_DEFINE_KERNEL_TABLE(mk_kernels_portable)
