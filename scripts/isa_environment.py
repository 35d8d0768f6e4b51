"""How the PyTorch comparison scripts run both sides as on a CPU without AVX-512.

Used by scripts/bench-vs-pytorch and scripts/torch-gemm-rates (`--isa avx2`):

    import isa_environment
    mixmae_env, torch_env = dict(os.environ), dict(os.environ)
    isa_environment.restrict_to_avx2(mixmae_env, torch_env)
"""


def restrict_to_avx2(mixmae_env, torch_env):
    """Sets, in the two environment dicts, what limits each side to AVX2: mixmae's kernels with AVX-512 hidden and
    OpenBLAS's Haswell kernels (MIXMAE_CPU, which would force a path, removed); PyTorch's ATen, MKL and oneDNN."""
    mixmae_env.update(MIXMAE_CPU_HIDE="avx512f", OPENBLAS_CORETYPE="Haswell")
    mixmae_env.pop("MIXMAE_CPU", None)
    torch_env.update(ATEN_CPU_CAPABILITY="avx2", MKL_ENABLE_INSTRUCTIONS="AVX2", ONEDNN_MAX_CPU_ISA="AVX2")
