"""Command-line interface. `corpusforge --help` lists the commands; each lives in its own module."""

from __future__ import annotations  # noqa: I001  (command modules in the order --help lists them)

import sys

# importing a command module registers its command(s) on `app`
from corpusforge.cli import build as _build  # noqa: E402,F401
from corpusforge.cli import label as _label  # noqa: E402,F401
from corpusforge.cli import push as _push  # noqa: E402,F401
from corpusforge.cli import train as _train  # noqa: E402,F401
from corpusforge.cli import export as _export  # noqa: E402,F401
from corpusforge.cli import report as _report  # noqa: E402,F401
from corpusforge.cli.app import app
from corpusforge.errors import BuildError, ConfigError, CorpusforgeError, InputError

EXIT_CODES = {ConfigError: 2, InputError: 3, BuildError: 4}


def main() -> None:
    """Console entry point: corpusforge's own errors become a clear message and an exit code, not a traceback."""
    try:
        app()
    except CorpusforgeError as e:
        from rich.console import Console

        Console(stderr=True).print(f"error: {e}", style="bold red", highlight=False, markup=False)
        sys.exit(EXIT_CODES.get(type(e), 1))
