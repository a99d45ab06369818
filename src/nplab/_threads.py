"""The environment variables that size the BLAS / OpenMP thread pools (read when those
libraries load, so they must be set before numpy is imported). No imports: bench/ reads
this before numpy loads."""

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
