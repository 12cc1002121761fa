"""Reals mode: programs judged as real-number functions (`evo search TARGET --reals`):
the certificate (interval arithmetic, certify) and the classical forms' real optimum
(baselines). `python -m evo.reals RUN` prints a run's digits against the classical forms."""
