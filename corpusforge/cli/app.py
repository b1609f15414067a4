"""The `corpusforge` Typer app; each command lives in its own module next to this one."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="corpusforge",
    help="Turn raw medical text into LLM training data: build corpora, pseudo-label with LLMs, train, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


@app.callback()
def _root() -> None:
    """Turn raw medical text into LLM training data: build corpora, pseudo-label with LLMs, train, evaluate."""
