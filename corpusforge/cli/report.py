"""`corpusforge report PATH...`: one offline HTML report of a build, a label run, training runs or raw PubMedQA."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from corpusforge.cli.app import app


@app.command()
def report(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="A build or label output folder, training run folders (one per stage), or PubMedQA files"
        ),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="HTML file to write (default: report.html in the folder)")
    ] = None,
    open_: Annotated[bool, typer.Option("--open", help="Open the report in a web browser")] = False,
    card: Annotated[
        bool,
        typer.Option("--card/--no-card", help="Also (re)write a dataset's plot images and its card's Plots section"),
    ] = False,
    tokenizer: Annotated[
        str | None,
        typer.Option("--tokenizer", help="PubMedQA statistics: a tokenizer.json or model folder (default: words)"),
    ] = None,
) -> None:
    """See the data: funnel, lengths, languages, bad-case browser; labels; training curves; QA statistics.

    The page is one self-contained file (inline charts, no network), sampled so it stays a few MB.
    """
    from corpusforge.report import write_report

    path = write_report(paths, output, card=card, tokenizer=tokenizer)
    size = path.stat().st_size
    Console().print(f"wrote {path} ({size / 1024:,.0f} KiB)", markup=False, highlight=False)
    if open_:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
