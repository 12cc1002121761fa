"""evo bench small: the ready bfloat16 and float16 functions (evo.lib.jax.bfloat16, .float16)
against jax's built-ins on arrays of that format under jax.jit, side by side (interleaved
samples, medians), and both checked on all 65,536 inputs of the format: how many results
are not the correctly rounded value."""
from __future__ import annotations

import importlib

import click
import numpy as np

from ..errors import EvoError
from ._common import print_json
from .bench_jax import side_by_side

BUILTINS = {"exp2": "jnp.exp2", "exp": "jnp.exp", "log2": "jnp.log2", "log": "jnp.log", "sigmoid": "jax.nn.sigmoid", "tanh": "jnp.tanh"}


def rows(n: int, repeats: int, formats: list[str]) -> list[dict]:
    import jax
    import jax.numpy as jnp

    from targets import get_target

    from ..core.formats import FORMATS
    from ..verification.formats import check_small_function

    out = []
    rng = np.random.default_rng(0)
    for fmt in formats:
        lib = importlib.import_module(f"evo.lib.jax.{fmt}")
        f = FORMATS[fmt]
        for name in lib.__all__:
            module, attr = BUILTINS[name].rsplit(".", 1)
            ours, theirs = getattr(lib, name), jax.jit(getattr(jnp if module == "jnp" else jax.nn, attr))
            hi = 15.0 if fmt == "float16" else 80.0     # results mostly finite and nonzero
            if name.startswith("log"):
                u, inputs = np.exp2(rng.uniform(-hi, hi, n)), f"2^U(-{hi:g}, {hi:g})"
            else:
                u, inputs = rng.uniform(-hi, hi, n), f"U(-{hi:g}, {hi:g})"
            x = jnp.asarray(u.astype(np.float32)).astype(f.numpy_dtype)
            t = side_by_side({"evo": ours, "jax": theirs}, x, repeats)
            target = get_target(name)
            mine, builtin = check_small_function(ours, target, f), check_small_function(theirs, target, f)
            out.append({"function": name, "format": fmt, "n": n, "inputs": inputs,
                        "evo_ns": t["evo"] / n * 1e9, "jax_ns": t["jax"] / n * 1e9, "speedup": t["jax"] / t["evo"],
                        "evo_misrounded": mine.misrounded, "jax_misrounded": builtin.misrounded,
                        "checked_inputs": mine.inputs})
    return out


@click.command()
@click.option("--n", "n", type=float, default=1e6, show_default=True, help="Elements per call.")
@click.option("--repeats", type=int, default=11, show_default=True, help="Interleaved samples per figure (median).")
@click.option("--formats", default="bfloat16,float16", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def small(n: float, repeats: int, formats: str, as_json: bool) -> None:
    """evo.lib.jax.bfloat16 / .float16 against jax's built-ins: speed and misrounded results."""
    import jax

    names = [f.strip() for f in formats.split(",") if f.strip()]
    bad = [f for f in names if f not in ("bfloat16", "float16")]
    if bad:
        raise EvoError(f"unknown format {bad[0]!r} (ready functions exist for: bfloat16, float16)")
    if repeats < 1 or n < 1:
        raise EvoError("--repeats and --n must be positive")
    device = f"{jax.default_backend()} ({jax.devices()[0].device_kind}), jax {jax.__version__}"
    res = {"device": device, "repeats": repeats, "rows": rows(int(n), repeats, names)}
    if as_json:
        print_json(res)
        return
    click.echo(f"evo.lib.jax.<format> vs jax built-ins under jax.jit on {device}; medians of {repeats} "
               "interleaved samples; misrounded: of all 65,536 inputs of the format (every one checked)")
    click.echo(f"{'function':<9} {'format':<9} {'n':>10} {'evo ns/el':>10} {'jax ns/el':>10} {'speedup':>8} "
               f"{'evo misrounded':>15} {'jax misrounded':>15}")
    for r in res["rows"]:
        click.echo(f"{r['function']:<9} {r['format']:<9} {r['n']:>10,} {r['evo_ns']:>10.3f} {r['jax_ns']:>10.3f} "
                   f"{r['speedup']:>7.2f}x {r['evo_misrounded']:>15,} {r['jax_misrounded']:>15,}")
