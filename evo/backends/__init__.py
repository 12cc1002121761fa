"""Compiled backends (XLA through jax.jit, LLVM through llvmlite), lowered from the op table."""
