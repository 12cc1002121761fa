"""The house rules, from the code's own imports (lazy and TYPE_CHECKING ones included):
no import cycle among evo's modules, and no import from a lower layer to a higher one."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("primitives", "targets", "evo")

# Bottom to top. A module may import its own layer or lower ones, never a higher one.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("primitives", ("primitives",)),
    ("targets", ("targets",)),
    ("core", ("evo.errors", "evo.core")),
    ("engines", ("evo.backends", "evo.fit")),
    ("judges", ("evo.verification", "evo.reals", "evo.classical")),
    ("writers", ("evo.codegen",)),
    ("platforms", ("evo.platforms",)),
    ("runs", ("evo.runs",)),
    ("search", ("evo.evolution",)),
    ("api", ("evo.api", "evo.lib")),
    ("front ends", ("evo.cli", "evo.dashboard", "evo.reals.__main__", "evo")),
]


def _module(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(mod: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for pre in prefixes:
            if (mod == pre or mod.startswith(pre + ".")) and len(pre) > best:
                best, rank = len(pre), i
    assert rank is not None, f"{mod} is in no layer: add it to LAYERS"
    return rank


def imports(root: Path = ROOT) -> dict[str, set[str]]:
    """{module: the evo/primitives/targets modules it imports}."""
    files = [p for pkg in PACKAGES for p in (root / pkg).rglob("*.py")]
    mods = {_module(p, root): p for p in files}
    out: dict[str, set[str]] = {}
    for mod, path in mods.items():
        pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    head = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(head + ([base] if base else []))
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    deps.add(sub if sub in mods else base)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
        # reading one's own package's __init__ (a package's docstring module) is not a tie
        out[mod] = {d for d in deps if d in mods and d != mod and not (d == pkg and path.name != "__init__.py")}
    return out


def test_every_module_is_in_a_layer():
    for mod in imports():
        _layer(mod)


def upward(graph: dict[str, set[str]]) -> list[str]:
    return [f"{m} ({LAYERS[_layer(m)][0]}) imports {d} ({LAYERS[_layer(d)][0]})"
            for m, deps in graph.items() for d in deps if _layer(d) > _layer(m)]


def test_no_import_goes_up_a_layer():
    up = upward(imports())
    assert not up, "\n".join(up)


def test_no_import_cycles():
    graph = imports()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_the_scan_sees_lazy_and_relative_upward_imports(tmp_path):
    """A lower module reaching up, in a function and relatively, is found."""
    for d in ("evo/core", "evo/runs", "primitives", "targets"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "__init__.py").write_text("")
    (tmp_path / "evo/__init__.py").write_text("")
    (tmp_path / "evo/runs/front.py").write_text("X = 1\n")
    (tmp_path / "evo/core/ir.py").write_text("def f():\n    from ..runs.front import X\n    return X\n")
    assert upward(imports(tmp_path)) == ["evo.core.ir (core) imports evo.runs.front (runs)"]
