"""Command-line interface. `corpusforge --help` lists the commands; each lives in its own module.

Errors a user can cause end as one or two lines naming the file, key or value (exit codes: 2 config, 3 input,
4 build, 1 anything else, 130/143 stopped by SIGINT/SIGTERM); `--debug` (anywhere on the line) shows tracebacks.
"""

from __future__ import annotations  # noqa: I001  (command modules in the order --help lists them)

import os
import signal
import sys

# importing a command module registers its command(s) on `app`
from corpusforge.cli import build as _build  # noqa: E402,F401
from corpusforge.cli import label as _label  # noqa: E402,F401
from corpusforge.cli import push as _push  # noqa: E402,F401
from corpusforge.cli import train as _train  # noqa: E402,F401
from corpusforge.cli import export as _export  # noqa: E402,F401
from corpusforge.cli import report as _report  # noqa: E402,F401
from corpusforge.cli import models as _models  # noqa: E402,F401
from corpusforge.cli.app import app
from corpusforge.errors import (
    DEBUG_ENV,
    BuildError,
    ConfigError,
    CorpusforgeError,
    InputError,
    StopRequested,
    debug_enabled,
    describe_library_error,
    first_line,
)

EXIT_CODES = {ConfigError: 2, InputError: 3, BuildError: 4}


def print_error(message: str) -> None:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(message, style="bold red", highlight=False, markup=False)


def exit_code(error: CorpusforgeError) -> int:
    if isinstance(error, StopRequested):
        return 128 + error.signum
    return next((code for cls, code in EXIT_CODES.items() if isinstance(error, cls)), 1)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: errors become a short message and an exit code, tracebacks only with --debug."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug_before = os.environ.get(DEBUG_ENV)
    if "--debug" in args:  # accepted anywhere on the line, handed to the root command where click expects it
        args = ["--debug"] + [a for a in args if a != "--debug"]
        os.environ[DEBUG_ENV] = "1"
    try:
        _run(args)
    finally:  # an in-process caller (a test, a notebook) gets its environment back: --debug is per command
        if debug_before is None:
            os.environ.pop(DEBUG_ENV, None)
        else:
            os.environ[DEBUG_ENV] = debug_before


def _run(args: list[str]) -> None:
    try:
        app(args=args, prog_name="corpusforge")
    except StopRequested as e:
        print_error(str(e))
        sys.exit(exit_code(e))
    except CorpusforgeError as e:
        if debug_enabled():
            raise
        print_error(f"error: {e}")
        sys.exit(exit_code(e))
    except KeyboardInterrupt:
        print_error("interrupted")
        sys.exit(128 + signal.SIGINT)
    except Exception as e:
        if debug_enabled():
            raise
        message = describe_library_error(e)
        if message is None:
            message = (
                f"unexpected error: {type(e).__name__}: {first_line(e)}\n"
                "  rerun with --debug for the traceback (and please report it)"
            )
        print_error(f"error: {message}")
        sys.exit(1)
