#!/usr/bin/env python3
"""Speed of exported full-range exp2f / expf / log2f / logf (array form) against the C libraries, side by side.

    .venv/bin/python bench/bench_export.py                # exp2f, expf: the discovered kernels in bench/kernels/
    .venv/bin/python bench/bench_export.py --funcs all    # + log2f, logf (discovered kernels too)
    .venv/bin/python bench/bench_export.py --funcs log2,log --verify --runs 5   # the log figures in the README
    .venv/bin/python bench/bench_export.py --verify       # + exhaustive 2^32 check of ours (minutes each)
    .venv/bin/python bench/bench_export.py --exp2 runs/NAME:ID --exp P.json   # other kernels
    .venv/bin/python bench/bench_export.py --funcs log2 --log2 runs/NAME:ID     # a searched log2 kernel
    .venv/bin/python bench/bench_export.py --stand-in     # minimax fma polynomials instead (exp2, exp)

One C program times, on the same n in-cache floats (exp2f, expf: uniform in [-LIM, LIM];
log2f, logf: e^u, u uniform in [-LIM, LIM], from 2e-9 to 4.9e8 for LIM = 20):
  evo        the exported FN_n, gcc -O3 -march=native -std=c99 (no fast-math)
  libmvec    glibc's vector function: a `#pragma omp simd` loop, gcc -O3 -march=native
             -ffast-math -fopenmp-simd (calls e.g. _ZGVeN16v_expf / _ZGVdN8v_log2f)
  libm       a plain scalar loop, gcc -O3 -march=native -std=c99
  sleef-u10  SLEEF's 1-ULP vector functions (Sleef_expf16_u10 with AVX-512, else 8-wide AVX2),
             if sleef.h is installed (Debian: apt-get install libsleef-dev)
  sleef-u35  SLEEF's 3.5-ULP vector log2f / logf (logs only): the fast table-free ones
Each figure is the median over repeats of ns/element (one repeat: many calls, >= ~5 ms), by the
wall clock, or with --clock cpu by the thread's CPU time (on a machine other work loads, the time
the benchmark was off the core is left out); --runs N runs the program N times and reports each
ratio as the median (range) over the runs.
Kernels: by default the discovered kernels kept in bench/kernels/ (one-member fronts of
searches; see its README): exp2-sym-6ops, exp-7ops, and on [sqrt(1/2), sqrt 2]
log2-sqrt2-11ops-fma and log-sqrt2-12ops-fma (division-free; the fastest log2f and logf
measured here, with log2-sqrt2-9ops, which has a division). Other finds kept for comparison:
log2-sqrt2-9ops, -12ops, -12ops-fma, -13ops; log-sqrt2-9ops, -10ops, -12ops, -14ops.
--log2 / --log take another kernel, e.g. the STAND-INS
bench/kernels/log2-standin-sqrt2 and log-standin-sqrt2: hand-structured fma polynomials whose
constants evo's fitter chose (bench/kernels/log-standin-sqrt2/fit_standins.py), NOT found by
the search. --stand-in: evo.classical.baselines minimax
polynomials for exp2 / exp, float32 coefficients, fma Horner: exp2 degree 6 on [-0.5, 0.5],
exp degree 7 on [-ln2/2, ln2/2] (degree 6 reaches 1.06 ULP over all inputs); --degree-exp2 /
--degree-exp change the degrees.
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
from evo.codegen import Provenance, export_source  # noqa: E402
from evo.core.ir import Program  # noqa: E402
from evo.errors import EvoError  # noqa: E402
from targets import Target, get_target  # noqa: E402

FUNCS = {"exp2": "exp2f", "exp": "expf", "log2": "log2f", "log": "logf"}
LOGS = ("log2", "log")
ROOT = Path(__file__).resolve().parents[1]
DISCOVERED = {"exp2": ROOT / "bench" / "kernels" / "exp2-sym-6ops", "exp": ROOT / "bench" / "kernels" / "exp-7ops",
              "log2": ROOT / "bench" / "kernels" / "log2-sqrt2-11ops-fma",
              "log": ROOT / "bench" / "kernels" / "log-sqrt2-12ops-fma"}
SQRT2 = "0.7071068,1.4142136"  # the float32 values of [sqrt(1/2), sqrt 2]
OPT = ["-O3", "-march=native"]

MAIN_C = r"""
#define _POSIX_C_SOURCE 200112L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
typedef void (*arr_fn)(const float *, float *, int);
%(decls)s
static const arr_fn FNS[] = {%(fns)s};
static const char *NAMES[] = {%(names)s};
static const int LOG_INPUT[] = {%(login)s};  /* 1: e^x (positive), 0: x */
#define NF ((int)(sizeof FNS / sizeof FNS[0]))
#ifndef EVO_CLOCK
#define EVO_CLOCK CLOCK_MONOTONIC  /* --clock cpu: CLOCK_THREAD_CPUTIME_ID */
#endif
static double now(void) { struct timespec t; clock_gettime(EVO_CLOCK, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static int cmp(const void *a, const void *b) { double d = *(const double *)a - *(const double *)b; return (d > 0) - (d < 0); }
int main(int argc, char **argv) {
    int n = atoi(argv[1]), repeats = atoi(argv[2]), i, j, r, k, inner[64];
    float lim = (float)atof(argv[3]);
    float *x = aligned_alloc(64, sizeof(float) * (n + 16)), *y = aligned_alloc(64, sizeof(float) * (n + 16));
    float *xe = aligned_alloc(64, sizeof(float) * (n + 16));
    double *s = malloc(sizeof(double) * repeats * NF), t;
    unsigned u = 12345u;
    (void)argc;
    for (i = 0; i < n; i++) { u = u * 1664525u + 1013904223u; x[i] = lim * (2.0f * (float)(u >> 8) / 16777216.0f - 1.0f); }
    for (i = 0; i < n; i++) xe[i] = expf(x[i]);
    for (j = 0; j < NF; j++) {  /* calibrate: one timing >= ~5 ms */
        const float *in = LOG_INPUT[j] ? xe : x;
        for (inner[j] = 1;; inner[j] *= 2) {
            t = now(); for (k = 0; k < inner[j]; k++) FNS[j](in, y, n); t = now() - t;
            if (t > 5e-3 || inner[j] > (1 << 28)) break;
        }
    }
    for (r = 0; r < repeats; r++)  /* interleaved, so load changes hit every implementation alike */
        for (j = 0; j < NF; j++) {
            const float *in = LOG_INPUT[j] ? xe : x;
            t = now(); for (k = 0; k < inner[j]; k++) FNS[j](in, y, n);
            s[j * repeats + r] = (now() - t) / ((double)inner[j] * n) * 1e9;
        }
    for (j = 0; j < NF; j++) {
        qsort(s + j * repeats, repeats, sizeof(double), cmp);
        printf("%%s %%.4f\n", NAMES[j], s[j * repeats + repeats / 2]);
    }
    free(x); free(xe); free(y); free(s);
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
    "sleef-u35": ("", "#include <immintrin.h>\n#include <sleef.h>\n",
                  "void {name}(const float *restrict x, float *restrict y, int n) {{\n"
                  "    int i = 0;\n"
                  "#if defined(__AVX512F__)\n"
                  "    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, Sleef_{f}16_u35(_mm512_loadu_ps(x + i)));\n"
                  "#else\n"
                  "    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, Sleef_{f}8_u35(_mm256_loadu_ps(x + i)));\n"
                  "#endif\n"
                  "    for (; i < n; i++) y[i] = Sleef_{f}_u35(x[i]);\n}}\n"),
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
    front has one member). A stand-in's front says so ("stand_in"): the description says it too."""
    from evo.cli._common import load_program
    from evo.cli.export import run_member

    path, _, member = source.partition(":") if not Path(source).exists() else (source, "", "")
    if Path(path).is_dir():
        from evo.runs.front import load_front

        front = load_front(path)
        if not member and len(front) != 1:
            raise EvoError(f"{path} has {len(front)} front members: say which, {path}:ID")
        p, t, _, prov = run_member(path, member or str(front[0].id))
        if t.full_range != name:
            raise EvoError(f"{source} is a kernel for {t.name}, not {name}")
        note = front.meta.get("stand_in")
        return p, t, prov, prov.source + (f" [{note}]" if note else "")
    t = get_target(name, interval)
    return load_program(path), t, Provenance(f"program file {path}"), path


def kernels(args: argparse.Namespace) -> dict[str, tuple[Program, Target, Provenance, str]]:
    """{target: (program, target, provenance, description)} for the functions asked for."""
    from evo.classical.baselines import approximation, build_program

    out = {}
    for name in args.funcs:
        if args.stand_in and name not in LOGS:
            t = get_target(name, (-0.5, 0.5) if name == "exp2" else None)
            deg = args.degree_exp2 if name == "exp2" else args.degree_exp
            p = build_program(approximation(t, "minimax", deg), "fma")
            lo, hi = t.interval
            out[name] = (p, t, Provenance(f"evo.classical.baselines minimax degree {deg} on [{lo:.6g}, {hi:.6g}], "
                                          f"fma Horner (stand-in)"), f"minimax{deg}-fma on [{lo:.6g}, {hi:.6g}]")
        else:
            source = getattr(args, name) or _shown(DISCOVERED[name])
            interval = {"exp2": args.exp2_interval, "log2": args.log2_interval, "log": args.log_interval}.get(name)
            out[name] = kernel_from(name, source, interval)
    return out


def parse_funcs(text: str) -> list[str]:
    names = list(FUNCS) if text == "all" else [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in names if f not in FUNCS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown function(s) {', '.join(bad) or text!r}: give some of "
                                         f"{', '.join(FUNCS)} (comma-separated) or all")
    return list(dict.fromkeys(names))


def build(ks: dict, impls: list[str], d: Path, clock: str = "wall") -> None:
    """Export ours, write the library loops and the timing main, link ./bench in d."""
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
            if impl == "sleef-u35" and name not in LOGS:
                continue
            sym = f"{impl.replace('-', '_')}_{f}"
            if impl != "evo":
                flags, inc, body = LOOPS[impl]
                (d / f"{sym}.c").write_text(inc + body.format(name=sym, f=f))
                gcc([*OPT, *flags.split(), "-c", f"{sym}.c", "-o", f"{sym}.o"], d)
                objects.append(f"{sym}.o")
            else:
                sym = f"evo_{f}_arr"
            decls.append(f"void {sym}(const float *, float *, int);")
            calls.append((sym, f"{name} {impl}", int(name in LOGS)))
    (d / "main.c").write_text(MAIN_C % {"decls": "\n".join(decls), "fns": ", ".join(c[0] for c in calls),
                                        "names": ", ".join(f'"{c[1]}"' for c in calls),
                                        "login": ", ".join(str(c[2]) for c in calls)})
    cpu = ["-DEVO_CLOCK=CLOCK_THREAD_CPUTIME_ID"] if clock == "cpu" else []
    gcc(["-O2", "-std=c11", *cpu, "-c", "main.c", "-o", "main.o"], d)
    libs = ["-lmvec", "-lm"] + (["-lsleef"] if "sleef-u10" in impls else [])
    gcc(["main.o", *objects, "-o", "bench", *libs], d)


def median_range(v: list[float]) -> dict[str, float]:
    v = sorted(v)
    mid = v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
    return {"median": round(mid, 4), "min": round(v[0], 4), "max": round(v[-1], 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--funcs", type=parse_funcs, default=["exp2", "exp"], metavar="F,G",
                    help=f"functions to measure: some of {', '.join(FUNCS)}, or all (default exp2,exp)")
    ap.add_argument("--exp2", metavar="SOURCE", help="exp2 kernel: PROGRAM.json or RUN_DIR[:ID] "
                    f"(default: {DISCOVERED['exp2'].relative_to(ROOT)})")
    ap.add_argument("--exp2-interval", metavar="A,B", default="0,1",
                    help="interval of an --exp2 PROGRAM.json: 0,1 or -0.5,0.5")
    ap.add_argument("--exp", metavar="SOURCE", help="exp kernel on [-ln2/2, ln2/2]: PROGRAM.json or "
                    f"RUN_DIR[:ID] (default: {DISCOVERED['exp'].relative_to(ROOT)})")
    ap.add_argument("--log2", metavar="SOURCE", help="log2 kernel: PROGRAM.json or RUN_DIR[:ID] "
                    f"(default: {DISCOVERED['log2'].relative_to(ROOT)})")
    ap.add_argument("--log2-interval", metavar="A,B", default=SQRT2,
                    help=f"interval of a --log2 PROGRAM.json (default {SQRT2}: [sqrt(1/2), sqrt 2]; or 1,2)")
    ap.add_argument("--log", metavar="SOURCE", help="log kernel: PROGRAM.json or RUN_DIR[:ID] "
                    f"(default: {DISCOVERED['log'].relative_to(ROOT)})")
    ap.add_argument("--log-interval", metavar="A,B", default=SQRT2,
                    help=f"interval of a --log PROGRAM.json (default {SQRT2}; or 0.5,1)")
    ap.add_argument("--stand-in", action="store_true",
                    help="minimax fma polynomials instead of discovered kernels (exp2, exp)")
    ap.add_argument("--degree-exp2", type=int, default=6, help="stand-in exp2 degree (default 6)")
    ap.add_argument("--degree-exp", type=int, default=7, help="stand-in exp degree (default 7)")
    ap.add_argument("-n", type=int, default=10_000, help="floats per call (in cache), default 10000")
    ap.add_argument("--repeats", type=int, default=21, help="repeats; the median is reported (default 21)")
    ap.add_argument("--runs", type=int, default=1, help="run the timing program this many times: ratios are "
                    "reported as median (range) over the runs (default 1)")
    ap.add_argument("--lim", type=float, default=20.0,
                    help="inputs uniform in [-LIM, LIM] (logs: e^u for such u) (default 20)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="time by the wall clock (default), or by the thread's CPU time: on a loaded "
                         "machine, the time the benchmark was not on a core is left out")
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
    if "sleef-u10" in impls and any(name in LOGS for name in ks):
        impls.append("sleef-u35")
    build(ks, impls, d, args.clock)
    load_before = os.getloadavg()[0]
    runs: list[dict[str, dict[str, float]]] = []
    for _ in range(max(args.runs, 1)):
        out = run(["./bench", str(args.n), str(args.repeats), str(args.lim)], d)
        one: dict[str, dict[str, float]] = {}
        for line in out.split("\n"):
            if line.strip():
                name, impl, ns = line.split()
                one.setdefault(name, {})[impl] = float(ns)
        runs.append(one)
    # ns/element: the median over runs of each run's median; ratios: impl / evo, per run
    res = {name: {impl: median_range([r[name][impl] for r in runs])["median"] for impl in row}
           for name, row in runs[0].items()}
    ratios = {name: {impl: median_range([r[name][impl] / r[name]["evo"] for r in runs])
                     for impl in row if impl != "evo"} for name, row in runs[0].items()}
    verified = {}
    if args.verify:
        from evo.cli.verify import check_function
        from evo.verification.native import load_c

        for name in ks:
            fn = load_c(d / f"evo_{FUNCS[name]}.c", f"evo_{FUNCS[name]}")
            r, _ = check_function(fn, ks[name][1], full_range=True, quiet=args.json)
            verified[name] = {"max_ulp": r.max_ulp, "argmax": r.argmax, "not_correctly_rounded": r.not_correctly_rounded,
                              "inputs": r.inputs, "seconds": round(r.seconds, 1)}
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    inputs = {name: (f"e^u, u uniform in [-{args.lim}, {args.lim}]" if name in LOGS else
                     f"uniform in [-{args.lim}, {args.lim}]") for name in ks}
    meta = {"n": args.n, "repeats": args.repeats, "runs": len(runs), "clock": args.clock, "inputs": inputs,
            "cpu": cpu, "cores": os.cpu_count(), "gcc": gcc(["-dumpfullversion"], d).strip(),
            "load_average": load_before, "load_average_after": os.getloadavg()[0],
            "dir": str(d) if args.keep else None}
    if not args.keep:
        shutil.rmtree(d, ignore_errors=True)
    if args.json:
        print(json.dumps({"meta": meta, "kernels": {k: v[3] for k, v in ks.items()}, "ns_per_element": res,
                          "ratios": ratios, "verified": verified}, indent=2))
        return
    print(f"{meta['cpu']}, {meta['cores']} cores, gcc {meta['gcc']}, load {load_before:.2f} before, "
          f"{meta['load_average_after']:.2f} after; n = {args.n} floats, median of {args.repeats}, "
          f"{'thread CPU time' if args.clock == 'cpu' else 'wall clock'}"
          + (f", {len(runs)} runs" if len(runs) > 1 else ""))
    for name, row in res.items():
        print(f"\n{FUNCS[name]}  (evo kernel: {ks[name][3]}; inputs {inputs[name]})")
        print(f"  {'implementation':<14} {'ns/element':>10} {'evo speedup':>12}"
              + ("   (median (range) over runs)" if len(runs) > 1 else ""))
        for impl, ns in row.items():
            q = ratios[name].get(impl)
            span = f"   {q['median']:.2f}x ({q['min']:.2f}-{q['max']:.2f})" if q and len(runs) > 1 else ""
            print(f"  {impl:<14} {ns:>10.4f} {row['evo'] and ns / row['evo']:>11.2f}x{span}")
        if name in verified:
            v = verified[name]
            print(f"  evo, all {v['inputs']:,} inputs: max {v['max_ulp']:.4g} ULP at x = {v['argmax']!r}, "
                  f"{v['not_correctly_rounded']:,} not correctly rounded ({v['seconds']} s)")
    if "sleef-u10" not in impls:
        print("\nSLEEF: sleef.h / libsleef not found (Debian: apt-get install libsleef-dev); not measured")


if __name__ == "__main__":
    main()
