"""evo lib --lang c|jax -o DIR [--format bfloat16|float16]: the ready library of discovered
functions, as files."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import EvoError
from ..lib.catalog import c_library, catalog, jax_package, pick


@click.command()
@click.option("--lang", type=click.Choice(["c", "jax", "numpy"]), required=True,
              help="c: a header and a source (scalar and array forms); jax: a native JAX package (= evo.lib.jax); "
                   "numpy: a NumPy module (--format bfloat16 or float16 only).")
@click.option("--output", "-o", type=click.Path(file_okay=False), required=True, help="Directory to write into.")
@click.option("--funcs", metavar="LIST", help="Comma list of functions (default: all: exp2, exp, log2, log).")
@click.option("--stem", default="evo_math", show_default=True, help="C: the file names' stem.")
@click.option("--format", "number_format", type=click.Choice(["float32", "bfloat16", "float16"]), default="float32",
              show_default=True, help="bfloat16 / float16: the correctly rounded 16-bit functions (uint16_t bit "
                                      "patterns in C, the evo.lib.jax.<format> module in JAX).")
def lib(lang: str, output: str, funcs: str | None, stem: str, number_format: str) -> None:
    """Write evo's ready functions (each with its error over all 2^32 inputs in its comment)."""
    if number_format != "float32":
        from ..lib.small import small_catalog, small_files

        functions = pick(small_catalog(number_format), funcs)
        files = small_files(functions, lang, stem)
    else:
        if lang == "numpy":
            raise EvoError("--lang numpy is offered with --format bfloat16 or float16 (float32: evo export --lang numpy)")
        functions = pick(catalog(), funcs)
        files = c_library(functions, stem) if lang == "c" else jax_package(functions)
    out = Path(output)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (out / name).write_text(text)
    except OSError as e:
        raise EvoError(f"{out}: cannot write: {e.strerror or e}") from None
    click.echo(f"wrote {', '.join(str(out / n) for n in files)} ({', '.join(f.name for f in functions)})", err=True)
