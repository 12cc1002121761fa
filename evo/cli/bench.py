"""evo bench {search,kernel,scaling,jax,small}: benchmarks (never timed unit tests)."""
from __future__ import annotations

import click

from ._lazy import LazyGroup

BENCHES = {
    "search": "Evaluations/s with and without fitting; time to a verified < 1 ULP exp2.",
    "kernel": "ns/element of a program per backend, and the ratio to library baselines.",
    "scaling": "Evaluations/s with 1 and 2 Ray workers, side by side.",
    "jax": "evo.lib.jax against jnp under jax.jit (and softmax / log-sum-exp), side by side.",
    "small": "evo.lib.jax.bfloat16 / .float16 against jax's built-ins: speed, and misrounded on every input.",
}


class _Benches(LazyGroup):
    lazy_commands = BENCHES
    module_prefix = "evo.cli.bench_"


@click.group(cls=_Benches)
def bench() -> None:
    """Benchmarks. Figures are medians over repeats, measured side by side in one run."""
