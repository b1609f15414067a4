"""`corpusforge export DIR --format llamafactory|axolotl --out DIR`: a built instruction dataset for other trainers."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from corpusforge.cli.app import app


class ExportFormat(str, Enum):
    llamafactory = "llamafactory"
    axolotl = "axolotl"


@app.command()
def export(
    dataset_dir: Annotated[Path, typer.Argument(help="A built stage-2/3 dataset (OUTPUT of `corpusforge build`)")],
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="Which trainer's layout")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the export into")],
    name: Annotated[str, typer.Option(help="Dataset name used in file names and dataset_info.json")] = "corpusforge",
) -> None:
    """Write a built instruction dataset as files LLaMA-Factory or axolotl read directly."""
    console = Console(soft_wrap=True)
    if format is ExportFormat.llamafactory:
        from corpusforge.export import export_llamafactory

        info = export_llamafactory(dataset_dir, out, name=name)
        console.print(f"wrote {len(info)} dataset_info.json entries to {out}: {', '.join(sorted(info))}")
        console.print(f"LLaMA-Factory: dataset_dir: {out}  dataset: {name}_train", markup=False)
    else:
        from corpusforge.export import export_axolotl

        export_axolotl(dataset_dir, out, name=name)
        console.print(f"wrote axolotl files to {out}; paste {out}/axolotl_datasets.yaml into your axolotl config")
