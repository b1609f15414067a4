"""`corpusforge push OUTPUT_DIR REPO_ID`: publish a built dataset to the Hugging Face Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from corpusforge.cli.app import app


@app.command()
def push(
    output_dir: Annotated[Path, typer.Argument(help="A built dataset directory (OUTPUT of `corpusforge build`)")],
    repo_id: Annotated[str, typer.Argument(help="Dataset repository, e.g. my-org/medical-instructions")],
    private: Annotated[
        bool | None,
        typer.Option("--private/--public", help="Visibility (default: keep an existing repo's; new repos private)"),
    ] = None,
    config_name: Annotated[
        str | None,
        typer.Option("--config-name", help="Push as this config (files under NAME/, merged into the repo's card)"),
    ] = None,
    revision: Annotated[str | None, typer.Option("--revision", help="Branch to push to (default: main)")] = None,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="File holding the token (default: HF_TOKEN, then `hf auth login`'s)"),
    ] = None,
    message: Annotated[str | None, typer.Option("--message", "-m", help="Commit message")] = None,
) -> None:
    """Upload the card, manifest and parquet shards of a built dataset; pushing unchanged data commits nothing."""
    from corpusforge.hub import push_dataset, resolve_token

    console = Console(soft_wrap=True)  # URLs and commit ids stay on one line
    result = push_dataset(
        output_dir,
        repo_id,
        resolve_token(token_file),
        private=private,
        config_name=config_name,
        revision=revision,
        commit_message=message,
    )
    if result.changed:
        console.print(
            f"pushed {len(result.uploaded)} file(s), deleted {len(result.deleted)}: {result.url} "
            f"(revision {result.revision}, commit {result.commit[:12]})",
            markup=False,
        )
    else:
        console.print(f"{result.url} is already up to date (commit {result.commit[:12]})", markup=False)
