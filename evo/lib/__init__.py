"""Ready functions made from kernels evo's searches discovered, for users who want faster
math without running a search: `evo.lib.jax` (native JAX: exp, exp2, log, log2) and, from
`evo lib --lang c -o DIR`, a C header and source. `kernels.json` records each function's
kernel, the command that found it, and its error over all 2^32 float32 inputs (of the C
code, and of the JAX code as XLA computes it); bench/build_lib.py makes both from the
kernels kept in bench/kernels/."""
