"""The search: the evolution loop and what it needs (config, state, selection, mutation,
the growing training set, workers on Ray or in-process, background checks, live display)."""
