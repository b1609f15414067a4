"""What the benches share: their command line, their scratch folder, the model they run and where numbers go.

A bench imports it as `_common` (run as `python bench/NAME.py`, a bench's own folder is first on sys.path).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def new_parser(doc: str, summary_only: bool = False) -> argparse.ArgumentParser:
    """The bench's command line, described by its module docstring (only its first line with `summary_only`)."""
    if summary_only:
        return argparse.ArgumentParser(description=doc.splitlines()[0])
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_options(parser: argparse.ArgumentParser, options: dict[str, Any]) -> None:
    """One option per entry, typed by its default: `{"--items": 64}`, or `{"--items": (64, "its help")}`."""
    for flag, value in options.items():
        default, help_text = value if isinstance(value, tuple) else (value, None)
        parser.add_argument(flag, type=None if default is None else type(default), default=default, help=help_text)


def add_model_and_json(parser: argparse.ArgumentParser) -> None:
    """`--model` (read by `model_or_tiny`) and `--json` (read by `write_json`)."""
    parser.add_argument("--model", help="a model folder (default: the tiny test Llama, built here)")
    parser.add_argument("--json", help="also write the numbers to this JSON file")


def model_or_tiny(model: str | None, work: Path, **tiny: Any) -> str:
    """`--model` when given, else the tiny test Llama built under `work` (`tiny`: build_tiny_llama's options)."""
    if model:
        return model
    from tests.tiny_models import build_tiny_llama

    return str(build_tiny_llama(work / "tiny-llama", **tiny))


def write_json(path: str | None, results: dict) -> None:
    """With `--json PATH`, the numbers also go to PATH."""
    if path:
        Path(path).write_text(json.dumps(results, indent=2))


@contextlib.contextmanager
def scratch(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A temporary folder for the runs, removed at the end unless `keep` (then its path is printed).

    SIGTERM exits through it, so the `finally` blocks inside stop the runs in flight.
    """
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield tmp
    finally:
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
