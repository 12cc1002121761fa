"""python -m evo.reals RUN [MAX_OPS]: the digits-against-ops table of a reals run."""
from __future__ import annotations

import sys

from ..cli import fail
from ..errors import EvoError
from ..runs.front import load_front
from ..runs.reports import digits_table


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 2 or (len(args) == 2 and not args[1].isdigit()):
        fail("usage: python -m evo.reals RUN [MAX_OPS]")
    try:
        front = load_front(args[0])
    except EvoError as e:
        fail(e.cli_message())
    print(digits_table(front, int(args[1]) if len(args) > 1 else 14))


main()
