"""A disk cache entry written whole or not at all: a reader never sees half a file, and a
read-only cache directory only costs time (the figure is computed again next time)."""
from __future__ import annotations

import json
import os
from pathlib import Path


def save_json(path: Path, data: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
    except OSError:
        pass
