"""Exhaustive verification: every float32 input of an interval (the fused LLVM verifier,
evo.verification.fused, and its numpy yardstick), C files and library symbols (native)."""
