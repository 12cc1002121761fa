"""The error of a native JAX export as XLA computes it: the module's code run under jax.jit
on every float32 input of its interval (or all 2^32), compared with the interpreter's
semantics (the C export, bit-exact with it) to say where XLA computes differently. Results
are cached on disk by the code that runs, the function's name and range, and the XLA
version and device, so an unchanged export is not measured twice."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from targets import Target, cache_dir

from ..core.cachefile import save_json
from ..core.progress import ProgressFn
from ..verification.xla import module_from_source, symbol_of, verify_jax, xla_version


def _cache(key: str) -> Path:
    return cache_dir() / "xla-checks" / f"{key}.json"


def measure(body: str, fn: str, target: Target, full_range: bool, progress: ProgressFn | None = None) -> dict:
    """The exhaustive figures of `fn` in the module source `body` under XLA (VerifyResult.to_dict),
    from the cache when the same code was measured on the same XLA and device before."""
    from .fullrange import special_inputs

    where = xla_version()
    key = hashlib.sha256(f"{body}|{fn}|{target.expr}|{target.interval}|{full_range}|{where}".encode()).hexdigest()[:24]
    path = _cache(key)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    module = module_from_source(body, f"evo_native_{key}")
    r = verify_jax(symbol_of(module, fn, "the export"), target, full_range, progress,
                   special_inputs(target) if full_range else ())
    d = r.to_dict()
    save_json(path, d)
    return d


def describe(d: dict | None, full_range: bool) -> list[str]:
    """The header's lines on what XLA computes, from a measurement (None: not measured)."""
    if d is None:
        return ["Under XLA: NOT measured (exported without running XLA over the inputs; `evo verify --jax",
                "FILE.py --symbol NAME -t T` measures it)."]
    where = "every float32 input" if full_range else "every float32 of the kernel's interval"
    by = f"measured by running this code under jax.jit with {d.get('computed_by', '?')}"
    sub, flushed = d.get("subnormal_results") or 0, d.get("flushed_to_zero") or 0
    if sub:
        lines = [f"Under XLA: max error {float(d['max_ulp_normal']):.4g} ULP over {where} whose result is normal "
                 f"({d['inputs']:,} inputs, {sub:,} of them with a subnormal result: {flushed:,} of those came out 0, "
                 f"as XLA on CPU flushes subnormals), {by}."]
    else:
        lines = [f"Under XLA: max error {float(d['max_ulp']):.4g} ULP over {where} ({d['inputs']:,} inputs), {by}."]
    lines.append("Subnormal inputs are read by their bits (exactly); a result is as the device's arithmetic makes "
                 "it (CPU: subnormal results flushed to 0). Another jax version or device: `evo verify --jax` "
                 "measures it there.")
    return lines
