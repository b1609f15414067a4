"""`corpusforge build RECIPE`: run a recipe's datatrove pipelines into a Hugging Face dataset directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from corpusforge.cli.app import app
from corpusforge.errors import BuildError


@app.command()
def build(
    recipe: Annotated[Path, typer.Argument(help="YAML recipe, e.g. recipes/stage1.yaml")],
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Output directory (overrides output.path)")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="Override a recipe key: --set sources.pubmed.reader.path=DIR (repeatable)"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the resolved recipe and plan; touch nothing")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Fail the build if any input record was quarantined or the build is degenerate (a warning: "
            "an LLM step mostly fell back or was cut at max_tokens, nothing was written)",
        ),
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Build from scratch, replacing what the output directory holds (another recipe, changed inputs, "
            "a finished build)",
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show datatrove's logs instead of filing them")
    ] = False,
    push: Annotated[
        str | None, typer.Option("--push", metavar="REPO_ID", help="Then publish the dataset to this Hub repo")
    ] = None,
    private: Annotated[
        bool | None, typer.Option("--private/--public", help="With --push: visibility (default: keep / private)")
    ] = None,
    push_config: Annotated[
        str | None, typer.Option("--push-config", help="With --push: publish as this config of the repo")
    ] = None,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Write OUTPUT/report.html and the card's plot images")
    ] = True,
) -> None:
    """Build a dataset from a recipe: read sources, clean, filter, deduplicate, write parquet + card + manifest.

    A rerun of the same recipe into the same output resumes where a killed run stopped; a rerun whose input files
    changed since is refused (naming them) unless --overwrite rebuilds.
    """
    from corpusforge.builder.recipe import load_recipe
    from corpusforge.builder.runner import BuildGuard, describe_plan, preflight
    from corpusforge.builder.runner import build as run_build
    from corpusforge.runtime.guard import Stopped, stop_behind

    console = Console()
    parsed = load_recipe(recipe, overrides=set_ or [], output=output)
    if push and not dry_run:  # a bad repo id or a missing token fails now, not after the build
        from corpusforge.hub import resolve_token
        from corpusforge.hub.push import check_repo_id

        check_repo_id(push)
        resolve_token()
    if dry_run:
        console.print(describe_plan(parsed), markup=False, highlight=False)
        return
    preflight(parsed)  # missing inputs fail before the lock makes the output folder
    output_dir = Path(parsed.output.path)
    try:
        with BuildGuard(output_dir):  # held until the report is written too
            result = run_build(parsed, strict=strict, overwrite=overwrite, console=console, quiet_logs=not verbose)
            if result.manifest is None:
                return
            print_report(console, result.manifest, result.plan.output_dir)
            if report:
                write_html_report(console, result.plan.output_dir)
    except (Stopped, Exception) as error:
        stop = stop_behind(error)
        if stop is None:
            raise
        console.print(
            f"stopped by {stop}: the finished tasks are kept in {output_dir}; run the same command again to resume",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(stop.exit_code) from None
    if result.manifest["status"] == "unbalanced":
        raise BuildError(f"the counts do not add up (see {result.plan.output_dir}/manifest.json): this is a bug")
    if result.manifest["status"] == "failed_strict":
        raise BuildError(strict_failure(result.manifest, result.plan.output_dir))
    if push:
        from corpusforge.cli.push import push as push_command

        push_command(result.plan.output_dir, push, private=private, config_name=push_config)


def strict_failure(manifest: dict, output_dir: Path) -> str:
    """Why --strict failed the build: quarantined input, or the warnings of a degenerate build."""
    t = manifest["totals"]
    if t["quarantined"] or t.get("files_quarantined"):
        files = t.get("files_quarantined", 0)
        return (
            f"--strict: {t['quarantined']} input records were quarantined"
            + (f" and {files} input file(s) could not be read" if files else "")
            + f" (see {output_dir}/quarantine/)"
        )
    warnings = manifest.get("warnings") or []
    return f"--strict: {len(warnings)} warning(s): {warnings[0]}" + (" (and more above)" if len(warnings) > 1 else "")


def print_report(console: Console, manifest: dict, output_dir: Path) -> None:
    """What was kept, dropped and quarantined, per source, with the balance that proves it."""
    from rich.table import Table

    from corpusforge.builder.finalize import dropped_cell, quarantine_reasons, unit_line  # the builder: import cost
    from corpusforge.builder.reference_report import index_origin

    table = Table(title=f"{manifest['recipe']}: {output_dir}", title_justify="left")
    for column in ("source", "input", "kept", "dropped", "quarantined", "balance"):
        table.add_column(column, justify="right" if column not in ("source", "balance") else "left")
    for name, s in manifest["sources"].items():
        units = len(s["segments"]) > 1  # books -> chunks, triples -> subgraphs: each count in its own unit
        table.add_row(
            name,
            f"{s['input']} {s['segments'][0]['unit']}" if units else str(s["input"]),
            f"{s['kept']} {s['segments'][-1]['unit']}" if units else str(s["kept"]),
            dropped_cell(s),
            str(s["quarantined"]),
            "ok" if s["balanced"] else "MISMATCH",
        )
    console.print(table)
    for name, s in manifest["sources"].items():
        console.print(f"  {name}: {s['balance']}", markup=False, highlight=False)
    t = manifest["totals"]
    verdict = (
        "every source balances: input = kept + dropped + quarantined, in each unit"
        if manifest["status"] != "unbalanced"
        else "THE COUNTS DO NOT ADD UP"
    )
    by_unit = "; ".join(unit_line(unit, row) for unit, row in (manifest.get("totals_by_unit") or {}).items())
    console.print(
        f"total ({verdict}): {by_unit or t}; {manifest['rows_written']} rows in {len(manifest['files'])} "
        "parquet files",
        markup=False,
        highlight=False,
    )
    for warning in manifest.get("warnings", []):
        console.print(f"warning: {warning}", markup=False, highlight=False, style="yellow")
    if t["quarantined"]:
        reasons = ", ".join(f"{r} {n}" for r, n in quarantine_reasons(manifest).items())
        console.print(
            f"[yellow]{t['quarantined']} input records quarantined ({reasons}): see {output_dir}/quarantine/[/]"
        )
    for check in manifest.get("reference_dedup", []):
        console.print(
            f"dedup.reference on {check['source']}: {check['removed']} of {check['checked']} removed as copies of "
            f"{check['reference']} ({index_origin(check)})",
            markup=False,
            highlight=False,
        )
    if manifest["dropped_by_reason"]:
        console.print(
            "dropped by reason: " + ", ".join(f"{r} {n}" for r, n in manifest["dropped_by_reason"].items()),
            markup=False,
            highlight=False,
        )


def write_html_report(console: Console, output_dir: Path) -> None:
    """OUTPUT/report.html and the card's plots; a finished dataset is never failed by its report."""
    from corpusforge.report import write_report

    try:
        path = write_report(output_dir, card=True)
    except Exception as e:  # noqa: BLE001 - the data is written; say what failed and how to retry
        console.print(
            f"the report could not be written ({type(e).__name__}: {e}); the dataset is complete. "
            f"Retry with: corpusforge report {output_dir}",
            style="yellow",
            markup=False,
            highlight=False,
        )
        return
    console.print(f"report: {path}", markup=False, highlight=False)
