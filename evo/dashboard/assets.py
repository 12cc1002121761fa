"""The page and its assets, all from this package, Plotly.js included (the basic build,
vendored in static/vendor/: see its README.md): nothing is fetched from elsewhere, the
machines may be offline. Assets are named from a fixed list; the file system is never
searched by a request."""
from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

from starlette.responses import Response

HERE = Path(__file__).parent / "static"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8"}


PLOTLY = "plotly-basic.min.js"  # Plotly.js, basic build: scatter, bar and pie traces only (1.2 MB, the full one 4.8)

ASSETS = {"app.js": lambda: HERE / "app.js", "style.css": lambda: HERE / "style.css",
          PLOTLY: lambda: HERE / "vendor" / PLOTLY}
LONG_LIVED = {PLOTLY}  # changes only when the vendored copy is updated; ours change with evo


@lru_cache(maxsize=None)
def _load(name: str) -> tuple[bytes, bytes]:
    data = ASSETS[name]().read_bytes()
    return data, gzip.compress(data, compresslevel=6)


def asset(name: str, accept_encoding: str = "") -> Response:
    if name not in ASSETS:
        return Response("not found", status_code=404, media_type="text/plain")
    try:
        data, zipped = _load(name)
    except OSError as e:
        return Response(f"asset {name} unavailable: {e}", status_code=404, media_type="text/plain")
    headers = {"Cache-Control": "public, max-age=86400" if name in LONG_LIVED else "no-cache",
               "X-Content-Type-Options": "nosniff", "Vary": "Accept-Encoding"}
    if "gzip" in accept_encoding:
        data, headers["Content-Encoding"] = zipped, "gzip"
    return Response(data, media_type=TYPES[Path(name).suffix], headers=headers)


def page() -> Response:
    return Response((HERE / "index.html").read_bytes(), media_type=TYPES[".html"],
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
                             "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                        "img-src 'self' data:; script-src 'self'"})
