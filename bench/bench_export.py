#!/usr/bin/env python3
"""Speed of exported full-range exp2f / expf (array form) against the C libraries, side by side.

    .venv/bin/python bench/bench_export.py                # the discovered kernels in bench/kernels/
    .venv/bin/python bench/bench_export.py --verify       # + exhaustive 2^32 check of ours (~1 min each)
    .venv/bin/python bench/bench_export.py --exp2 runs/NAME:ID --exp P.json   # other kernels
    .venv/bin/python bench/bench_export.py --stand-in     # minimax fma polynomials instead

One C program times, on the same n in-cache floats (uniform in [-LIM, LIM]):
  evo        the exported FN_n, gcc -O3 -march=native -std=c99 (no fast-math)
  libmvec    glibc's vector expf/exp2f: a `#pragma omp simd` loop, gcc -O3 -march=native
             -ffast-math -fopenmp-simd (calls _ZGVeN16v_expf / _ZGVdN8v_expf)
  libm       a plain scalar expf/exp2f loop, gcc -O3 -march=native -std=c99
  sleef-u10  SLEEF's 1-ULP vector functions (Sleef_expf16_u10 with AVX-512, else 8-wide AVX2),
             if sleef.h is installed (Debian: apt-get install libsleef-dev)
Each figure is the median over repeats of ns/element (one repeat: many calls, >= ~5 ms).
Kernels: by default the discovered ones kept in bench/kernels/ (one-member fronts of
searches; see its README). --stand-in: evo.baselines minimax polynomials, float32
coefficients, fma Horner: exp2 degree 6 on [-0.5, 0.5], exp degree 7 on [-ln2/2, ln2/2]
(degree 6 reaches 1.06 ULP over all inputs); --degree-exp2 / --degree-exp change the degrees.
Objects are linked without -ffast-math (gcc's crtfastmath would set FTZ/DAZ process-wide).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # evo, from a checkout

from evo.backends.gcc import GccError, gcc_path, run_gcc  # noqa: E402
from evo.errors import EvoError  # noqa: E402
from evo.export import Provenance, export_source  # noqa: E402
from evo.ir import Program  # noqa: E402
from targets import Target, get_target  # noqa: E402

FUNCS = {"exp2": "exp2f", "exp": "expf"}
ROOT = Path(__file__).resolve().parents[1]
DISCOVERED = {"exp2": ROOT / "bench" / "kernels" / "exp2-sym-6ops", "exp": ROOT / "bench" / "kernels" / "exp-7ops"}
OPT = ["-O3", "-march=native"]

MAIN_C = r"""
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
typedef void (*arr_fn)(const float *, float *, int);
%(decls)s
static const arr_fn FNS[] = {%(fns)s};
static const char *NAMES[] = {%(names)s};
#define NF ((int)(sizeof FNS / sizeof FNS[0]))
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static int cmp(const void *a, const void *b) { double d = *(const double *)a - *(const double *)b; return (d > 0) - (d < 0); }
int main(int argc, char **argv) {
    int n = atoi(argv[1]), repeats = atoi(argv[2]), i, j, r, k, inner[64];
    float lim = (float)atof(argv[3]);
    float *x = aligned_alloc(64, sizeof(float) * (n + 16)), *y = aligned_alloc(64, sizeof(float) * (n + 16));
    double *s = malloc(sizeof(double) * repeats * NF), t;
    unsigned u = 12345u;
    (void)argc;
    for (i = 0; i < n; i++) { u = u * 1664525u + 1013904223u; x[i] = lim * (2.0f * (float)(u >> 8) / 16777216.0f - 1.0f); }
    for (j = 0; j < NF; j++) {  /* calibrate: one timing >= ~5 ms */
        for (inner[j] = 1;; inner[j] *= 2) {
            t = now(); for (k = 0; k < inner[j]; k++) FNS[j](x, y, n); t = now() - t;
            if (t > 5e-3 || inner[j] > (1 << 28)) break;
        }
    }
    for (r = 0; r < repeats; r++)  /* interleaved, so load changes hit every implementation alike */
        for (j = 0; j < NF; j++) {
            t = now(); for (k = 0; k < inner[j]; k++) FNS[j](x, y, n);
            s[j * repeats + r] = (now() - t) / ((double)inner[j] * n) * 1e9;
        }
    for (j = 0; j < NF; j++) {
        qsort(s + j * repeats, repeats, sizeof(double), cmp);
        printf("%%s %%.4f\n", NAMES[j], s[j * repeats + repeats / 2]);
    }
    free(x); free(y); free(s);
    return 0;
}
"""

LOOPS = {
    "libmvec": ("-ffast-math -fopenmp-simd", "#include <math.h>\n",
                "void {name}(const float *restrict x, float *restrict y, int n) {{\n"
                "#pragma omp simd\n    for (int i = 0; i < n; i++) y[i] = {f}(x[i]);\n}}\n"),
    "libm": ("-std=c99", "#include <math.h>\n",
             "void {name}(const float *restrict x, float *restrict y, int n) {{\n"
             "    for (int i = 0; i < n; i++) y[i] = {f}(x[i]);\n}}\n"),
    "sleef-u10": ("", "#include <immintrin.h>\n#include <sleef.h>\n",
                  "void {name}(const float *restrict x, float *restrict y, int n) {{\n"
                  "    int i = 0;\n"
                  "#if defined(__AVX512F__)\n"
                  "    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, Sleef_{f}16_u10(_mm512_loadu_ps(x + i)));\n"
                  "#else\n"
                  "    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, Sleef_{f}8_u10(_mm256_loadu_ps(x + i)));\n"
                  "#endif\n"
                  "    for (; i < n; i++) y[i] = Sleef_{f}_u10(x[i]);\n}}\n"),
}


def run(cmd: list[str], cwd: Path) -> str:
    """The harness's own command (./bench); SystemExit with its message if it fails."""
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr.strip()}")
    return r.stdout


def gcc(args: list[str], cwd: Path) -> str:
    """gcc ARGS in cwd, through evo's gcc driver; SystemExit with gcc's message if it fails."""
    try:
        return run_gcc(args, "gcc " + " ".join(args), cwd).stdout
    except GccError as e:
        raise SystemExit(f"failed: {e}\n{e.stderr.strip()}") from None


def sleef_available(d: Path) -> bool:
    (d / "probe.c").write_text("#include <sleef.h>\nint main(void) { return 0; }\n")
    try:
        run_gcc(["probe.c", "-o", "probe", "-lsleef"], "the SLEEF probe", d)
    except GccError:
        return False
    return True


def _shown(path: Path) -> str:
    """path relative to the working directory when it lies below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def kernel_from(name: str, source: str, interval: str | None) -> tuple[Program, Target, Provenance, str]:
    """A kernel for `name` from a PROGRAM.json or a RUN_DIR[:ID] (ID may be left out when the
    front has one member)."""
    from evo.commands._common import load_program
    from evo.commands.export import run_member

    path, _, member = source.partition(":") if not Path(source).exists() else (source, "", "")
    if Path(path).is_dir():
        from evo.runs import load_front

        front = load_front(path)
        if not member and len(front) != 1:
            raise EvoError(f"{path} has {len(front)} front members: say which, {path}:ID")
        p, t, prov = run_member(path, member or str(front[0].id))
        if t.full_range != name:
            raise EvoError(f"{source} is a kernel for {t.name}, not {name}")
        return p, t, prov, prov.source
    t = get_target(name, interval)
    return load_program(path), t, Provenance(f"program file {path}"), path


def kernels(args: argparse.Namespace) -> dict[str, tuple[Program, Target, Provenance, str]]:
    """{target: (program, target, provenance, description)} for exp2 and exp."""
    from evo.baselines import approximation, build_program

    out = {}
    for name in FUNCS:
        if args.stand_in:
            t = get_target(name, (-0.5, 0.5) if name == "exp2" else None)
            deg = args.degree_exp2 if name == "exp2" else args.degree_exp
            p = build_program(approximation(t, "minimax", deg), "fma")
            lo, hi = t.interval
            out[name] = (p, t, Provenance(f"evo.baselines minimax degree {deg} on [{lo:.6g}, {hi:.6g}], "
                                          f"fma Horner (stand-in)"), f"minimax{deg}-fma on [{lo:.6g}, {hi:.6g}]")
        else:
            source = getattr(args, name) or _shown(DISCOVERED[name])
            out[name] = kernel_from(name, source, args.exp2_interval if name == "exp2" else None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exp2", metavar="SOURCE", help="exp2 kernel: PROGRAM.json or RUN_DIR[:ID] "
                    f"(default: {DISCOVERED['exp2'].relative_to(ROOT)})")
    ap.add_argument("--exp2-interval", metavar="A,B", default="0,1",
                    help="interval of an --exp2 PROGRAM.json: 0,1 or -0.5,0.5")
    ap.add_argument("--exp", metavar="SOURCE", help="exp kernel on [-ln2/2, ln2/2]: PROGRAM.json or "
                    f"RUN_DIR[:ID] (default: {DISCOVERED['exp'].relative_to(ROOT)})")
    ap.add_argument("--stand-in", action="store_true", help="minimax fma polynomials instead of discovered kernels")
    ap.add_argument("--degree-exp2", type=int, default=6, help="stand-in exp2 degree (default 6)")
    ap.add_argument("--degree-exp", type=int, default=7, help="stand-in exp degree (default 7)")
    ap.add_argument("-n", type=int, default=10_000, help="floats per call (in cache), default 10000")
    ap.add_argument("--repeats", type=int, default=21, help="repeats; the median is reported (default 21)")
    ap.add_argument("--lim", type=float, default=20.0, help="inputs uniform in [-LIM, LIM] (default 20)")
    ap.add_argument("--verify", action="store_true", help="also verify ours on all 2^32 inputs (minutes)")
    ap.add_argument("--keep", metavar="DIR", help="keep the generated sources and binary in DIR")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    if gcc_path() is None:
        raise SystemExit("gcc not found")
    try:
        ks = kernels(args)
    except EvoError as e:
        raise SystemExit(f"error: {e}")
    d = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="evo-bench-export-"))
    d.mkdir(parents=True, exist_ok=True)
    impls = ["evo", "libmvec", "libm"] + (["sleef-u10"] if sleef_available(d) else [])
    objects, decls, calls = [], [], []
    for name, (p, t, prov, _) in ks.items():
        f = FUNCS[name]
        src = d / f"evo_{f}.c"
        src.write_text(export_source(p, t, "c", full_range=True, name=f"evo_{f}", provenance=prov))
        gcc([*OPT, "-std=c99", "-c", src.name, "-o", f"evo_{f}.o"], d)
        objects.append(f"evo_{f}.o")
        # the exported array form takes size_t: adapt to the harness signature
        (d / f"evo_{f}_int.c").write_text(
            f"#include <stddef.h>\nvoid evo_{f}_n(const float *x, float *y, size_t n);\n"
            f"void evo_{f}_arr(const float *x, float *y, int n) {{ evo_{f}_n(x, y, (size_t)n); }}\n")
        gcc(["-O2", "-c", f"evo_{f}_int.c", "-o", f"evo_{f}_int.o"], d)
        objects.append(f"evo_{f}_int.o")
        for impl in impls:
            sym = f"{impl.replace('-', '_')}_{f}"
            if impl != "evo":
                flags, inc, body = LOOPS[impl]
                (d / f"{sym}.c").write_text(inc + body.format(name=sym, f=f))
                gcc([*OPT, *flags.split(), "-c", f"{sym}.c", "-o", f"{sym}.o"], d)
                objects.append(f"{sym}.o")
            else:
                sym = f"evo_{f}_arr"
            decls.append(f"void {sym}(const float *, float *, int);")
            calls.append((sym, f"{name} {impl}"))
    (d / "main.c").write_text(MAIN_C % {"decls": "\n".join(decls), "fns": ", ".join(c[0] for c in calls),
                                        "names": ", ".join(f'"{c[1]}"' for c in calls)})
    gcc(["-O2", "-std=c11", "-c", "main.c", "-o", "main.o"], d)
    libs = ["-lmvec", "-lm"] + (["-lsleef"] if "sleef-u10" in impls else [])
    gcc(["main.o", *objects, "-o", "bench", *libs], d)
    out = run(["./bench", str(args.n), str(args.repeats), str(args.lim)], d)
    res: dict[str, dict[str, float]] = {}
    for line in out.split("\n"):
        if line.strip():
            name, impl, ns = line.split()
            res.setdefault(name, {})[impl] = float(ns)
    verified = {}
    if args.verify:
        from evo.commands.verify import check_function
        from evo.export.native import load_c

        for name in ks:
            fn = load_c(d / f"evo_{FUNCS[name]}.c", f"evo_{FUNCS[name]}")
            r, _ = check_function(fn, ks[name][1], full_range=True, quiet=False)
            verified[name] = {"max_ulp": r.max_ulp, "argmax": r.argmax, "not_correctly_rounded": r.not_correctly_rounded,
                              "inputs": r.inputs, "seconds": round(r.seconds, 1)}
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    meta = {"n": args.n, "repeats": args.repeats, "inputs": f"uniform in [-{args.lim}, {args.lim}]",
            "cpu": cpu, "cores": os.cpu_count(), "gcc": gcc(["-dumpfullversion"], d).strip(),
            "load_average": os.getloadavg()[0], "dir": str(d) if args.keep else None}
    if not args.keep:
        shutil.rmtree(d, ignore_errors=True)
    if args.json:
        print(json.dumps({"meta": meta, "kernels": {k: v[3] for k, v in ks.items()}, "ns_per_element": res,
                          "verified": verified}, indent=2))
        return
    print(f"{meta['cpu']}, {meta['cores']} cores, gcc {meta['gcc']}, load {meta['load_average']:.2f}; "
          f"n = {args.n} floats {meta['inputs']}, median of {args.repeats}")
    for name, row in res.items():
        print(f"\n{FUNCS[name]}  (evo kernel: {ks[name][3]})")
        print(f"  {'implementation':<12} {'ns/element':>10} {'evo speedup':>12}")
        for impl, ns in row.items():
            print(f"  {impl:<12} {ns:>10.4f} {row['evo'] and ns / row['evo']:>11.2f}x")
        if name in verified:
            v = verified[name]
            print(f"  evo, all {v['inputs']:,} inputs: max {v['max_ulp']:.4g} ULP at x = {v['argmax']!r}, "
                  f"{v['not_correctly_rounded']:,} not correctly rounded ({v['seconds']} s)")
    if "sleef-u10" not in impls:
        print("\nSLEEF: sleef.h / libsleef not found (Debian: apt-get install libsleef-dev); not measured")


if __name__ == "__main__":
    main()
