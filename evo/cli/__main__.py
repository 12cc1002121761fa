"""python -m evo.cli: the `evo` command."""
from . import main

main()
