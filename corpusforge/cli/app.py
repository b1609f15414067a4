"""The `corpusforge` Typer app; each command lives in its own module next to this one."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from corpusforge.errors import DEBUG_ENV

app = typer.Typer(
    name="corpusforge",
    help="Turn raw medical text into LLM training data: build corpora, pseudo-label with LLMs, train, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks (also in training processes) instead of one line")
    ] = False,
) -> None:
    """Turn raw medical text into LLM training data: build corpora, pseudo-label with LLMs, train, evaluate."""
    if debug:
        os.environ[DEBUG_ENV] = "1"
