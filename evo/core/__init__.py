"""The lowest layer of the engine: programs (ir), the one program walker and its
per-domain tables (walk), the interpreter (interp), number helpers (numbers),
double-double arithmetic, scoring against ground truth, Pareto ranks and progress.
Imports nothing of evo above it."""
