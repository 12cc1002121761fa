"""Keep one checked front member of a run (exhaustively verified, or in reals mode certified)
as a one-member front under bench/kernels/ (what bench_export.py and `evo export DIR --id K`
read), with the command that found it.

    python bench/keep_kernel.py RUN_DIR MEMBER_ID bench/kernels/NAME --found-by "evo search ..."
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from evo.runs.front import load_front


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("member")
    ap.add_argument("dest")
    ap.add_argument("--found-by", required=True, help="the command that found it")
    a = ap.parse_args()
    front = load_front(a.run)
    m = front.member(a.member)
    if m.exhaustive is None and m.certified_max_rel is None:
        raise SystemExit(f"member {m.id} was not verified exhaustively (or, reals, certified): check it first "
                         "(evo verify)")
    dest = Path(a.dest)
    dest.mkdir(parents=True, exist_ok=False)
    shutil.copy(Path(a.run) / "config.json", dest / "config.json")
    meta = {k: v for k, v in front.meta.items() if k not in ("members", "checked")}
    meta.update(run=dest.name, found_by=a.found_by, members=[m.to_dict(front.platform)])
    (dest / "front.json").write_text(json.dumps(meta, indent=1))
    checked = f"{m.error:.4g} ULP exhaustive" if m.exhaustive is not None else \
        f"max relative error <= {m.certified_max_rel:.4g}, certified"
    print(f"kept #{m.id} ({m.ops} ops, {checked}) in {dest}")


if __name__ == "__main__":
    main()
