"""`corpusforge label ...`: pseudo-label questions with an LLM (vLLM, an OpenAI-compatible server, transformers).

    corpusforge label pqa-u --input ori_pqau.json --model PATH --strategy voc --output out/pqa-u-voc
    corpusforge label pqa-l --eval --input ori_pqal.json --ground-truth test_ground_truth.json --model PATH ...
    corpusforge label run recipes/label_pqa_u.yaml --set model.name=PATH --output out/x
    corpusforge label pqa-u ... --executor ray --tasks 8 --set executor.gpus_per_task=1   # 8 engines, one output
    corpusforge label merge out/merged out/shard0 out/shard1          # outputs of run.num_shards jobs run by hand

Flags override the recipe (or the preset's defaults); `--set a.b=VALUE` overrides any key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from corpusforge.cli.app import app
from corpusforge.errors import BuildError, ConfigError
from corpusforge.sources_check import model_problems

label_app = typer.Typer(
    help="Pseudo-label questions with an LLM (AntGLM-Med's LLM-annotated PQA-U: long-answer, VoC, CoT, PPL).",
    no_args_is_help=True,
)
app.add_typer(label_app, name="label")

SHARED_PUBMEDQA_CANDIDATES = (Path.cwd().parent / "shared" / "data" / "pubmedqa",)

InputOpt = Annotated[
    str | None, typer.Option("--input", "-i", help="Local file/folder, or a Hub dataset name (qiaojin/PubMedQA)")
]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Model path or name (served name for openai)")]
BackendOpt = Annotated[str | None, typer.Option("--backend", "-b", help="vllm | openai | transformers")]
StrategyOpt = Annotated[str | None, typer.Option("--strategy", help="long-answer | voc | cot | ppl | ensemble")]
OutputOpt = Annotated[str | None, typer.Option("--output", "-o", help="Output dataset directory")]
LimitOpt = Annotated[int | None, typer.Option("--limit", "-n", help="Only the first N input records")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", "-s", help="Override a job key: --set a.b=VALUE")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the resolved job and plan; load and write nothing")]
RecipeOpt = Annotated[Path | None, typer.Option("--recipe", "-r", help="A label recipe YAML to start from")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or progress lines")]
ExecutorOpt = Annotated[
    str | None,
    typer.Option("--executor", "-e", help="local | ray | slurm: where the tasks run (the executor: section)"),
]
TasksOpt = Annotated[int | None, typer.Option("--tasks", "-t", help="Split the items into N tasks (executor.tasks)")]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Fail (exit 4) on a degenerate run: >= 95% one label, no labels, many generations cut or looping",
    ),
]
ReportOpt = Annotated[
    bool, typer.Option("--report/--no-report", help="Write OUTPUT/report.html and the card's plot images")
]


@label_app.command("pqa-u")
def label_pqa_u(
    input: InputOpt = None,
    model: ModelOpt = None,
    backend: BackendOpt = None,
    strategy: StrategyOpt = None,
    output: OutputOpt = None,
    limit: LimitOpt = None,
    recipe: RecipeOpt = None,
    set_: SetOpt = None,
    dry_run: DryRunOpt = False,
    quiet: QuietOpt = False,
    executor: ExecutorOpt = None,
    tasks: TasksOpt = None,
    report: ReportOpt = True,
    strict: StrictOpt = False,
) -> None:
    """Label PubMedQA's unlabelled PQA-U (ori_pqau.json, the Hub pqa_unlabeled parquet, or JSONL) as yes/no/maybe."""
    preset = {"task": {"name": "pqa-u"}}
    job = build_job(preset, recipe, input, model, backend, strategy, output, limit, set_ or [], executor, tasks)
    _run(job, dry_run, quiet, ground_truth=None, report=report, strict=strict)


@label_app.command("pqa-l")
def label_pqa_l(
    eval_: Annotated[
        bool, typer.Option("--eval", help="Score the labels on the official test PMIDs (accuracy, macro-F1)")
    ] = False,
    ground_truth: Annotated[
        str | None, typer.Option("--ground-truth", help="test_ground_truth.json (the official 500 test PMIDs)")
    ] = None,
    input: InputOpt = None,
    model: ModelOpt = None,
    backend: BackendOpt = None,
    strategy: StrategyOpt = None,
    output: OutputOpt = None,
    limit: LimitOpt = None,
    recipe: RecipeOpt = None,
    set_: SetOpt = None,
    dry_run: DryRunOpt = False,
    quiet: QuietOpt = False,
    executor: ExecutorOpt = None,
    tasks: TasksOpt = None,
    report: ReportOpt = True,
    strict: StrictOpt = False,
) -> None:
    """Label PQA-L (ori_pqal.json); with --eval, only its official test split, scored per strategy."""
    shared = next((p for p in SHARED_PUBMEDQA_CANDIDATES if (p / "ori_pqal.json").is_file()), None)
    preset: dict[str, Any] = {"task": {"name": "pqa-l"}}
    if shared is not None:
        preset["input"] = {"path": str(shared / "ori_pqal.json")}
        preset["eval"] = {"ground_truth": str(shared / "test_ground_truth.json")}
    overrides = list(set_ or [])
    if ground_truth:
        overrides.append(f"eval.ground_truth={ground_truth}")
    job = build_job(preset, recipe, input, model, backend, strategy, output, limit, overrides, executor, tasks)
    if eval_ and not job.eval.ground_truth:
        raise ConfigError("eval.ground_truth: --eval needs --ground-truth test_ground_truth.json")
    _run(job, dry_run, quiet, ground_truth=job.eval.ground_truth if eval_ else None, report=report, strict=strict)


@label_app.command("run")
def label_run(
    recipe: Annotated[Path, typer.Argument(help="A label recipe, e.g. recipes/label_pqa_u.yaml")],
    input: InputOpt = None,
    model: ModelOpt = None,
    backend: BackendOpt = None,
    strategy: StrategyOpt = None,
    output: OutputOpt = None,
    limit: LimitOpt = None,
    set_: SetOpt = None,
    eval_: Annotated[bool, typer.Option("--eval", help="Score against eval.ground_truth (PQA-L test PMIDs)")] = False,
    dry_run: DryRunOpt = False,
    quiet: QuietOpt = False,
    executor: ExecutorOpt = None,
    tasks: TasksOpt = None,
    report: ReportOpt = True,
    strict: StrictOpt = False,
) -> None:
    """Run any label recipe (other yes/no/maybe or multiple-choice jobs need a recipe, not code)."""
    job = build_job({}, recipe, input, model, backend, strategy, output, limit, set_ or [], executor, tasks)
    if eval_ and not job.eval.ground_truth:
        raise ConfigError("eval.ground_truth: --eval needs eval.ground_truth in the recipe or --set")
    _run(job, dry_run, quiet, ground_truth=job.eval.ground_truth if eval_ else None, report=report, strict=strict)


@label_app.command("merge")
def label_merge(
    output: Annotated[Path, typer.Argument(help="The merged output directory (a new folder)")],
    shards: Annotated[
        list[Path], typer.Argument(help="The output directories of the shards (run.shard_index 0..n-1)")
    ],
) -> None:
    """Merge the outputs of a job labelled by hand in shards (run.num_shards) into one output, as one run writes."""
    from corpusforge.label.merge import merge_shards
    from corpusforge.label.output_lock import RunGuard
    from corpusforge.label.summary import summary_lines

    console = Console()

    def log(message: str) -> None:
        console.print(message, markup=False, highlight=False, soft_wrap=True)

    with RunGuard(output):
        run = merge_shards(shards, output, log=log)
    for line in summary_lines(run.summary):
        log(line)
    log(f"wrote {run.output_dir} (manifest.json, README.md, data/)")


def build_job(
    preset: dict[str, Any],
    recipe: Path | None,
    input: str | None,
    model: str | None,
    backend: str | None,
    strategy: str | None,
    output: str | None,
    limit: int | None,
    overrides: list[str],
    executor: str | None = None,
    tasks: int | None = None,
):
    """Preset defaults <- recipe <- flags <- --set, validated as a whole (errors name the key)."""
    from corpusforge.config import apply_overrides, load_yaml, validate
    from corpusforge.label.config import LabelJob

    data = _merge(preset, load_yaml(recipe) if recipe else {})
    if input is not None:
        data["input"] = {**data.get("input", {}), **_input_section(input)}
        data["input"].pop("path" if "hub" in _input_section(input) else "hub", None)
    if model is not None:
        data.setdefault("model", {})["name"] = model
    if backend is not None:
        section = data.setdefault("model", {})
        if (section.get("backend") or {}).get("type") != backend:
            section["backend"] = {"type": backend}
    if strategy is not None:
        data["strategy"] = strategy
    if output is not None:
        data.setdefault("run", {})["output"] = output
    if limit is not None:
        data.setdefault("run", {})["limit"] = limit
    if executor is not None:
        section = data.get("executor") or {}
        if section.get("type", "local") != executor:  # another executor: its own settings, the same tasks
            section = {"type": executor, **({"tasks": section["tasks"]} if "tasks" in section else {})}
        data["executor"] = section
    if tasks is not None:
        data.setdefault("executor", {})["tasks"] = tasks
    data = apply_overrides(data, overrides)
    if not isinstance(data.get("model"), dict) or not data["model"].get("name"):
        where = f"in {recipe}" if recipe else "in a recipe given with --recipe"
        raise ConfigError(f"no model given: use --model PATH_OR_HUB_ID, or set model.name {where}")
    job = validate(LabelJob, data, source=str(recipe) if recipe else "command line")
    if not job.run.output:
        raise ConfigError("run.output: give --output DIR (or run.output in the recipe)")
    return job


def _input_section(value: str) -> dict[str, str]:
    """A local path when it exists, else a Hub dataset name (owner/name), else a clear error."""
    if Path(value).exists():
        return {"path": value}
    if re.fullmatch(r"[\w.-]+/[\w.-]+", value):
        return {"hub": value}
    raise ConfigError(f"input.path: {value}: file not found")


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _run(
    job, dry_run: bool, quiet: bool, ground_truth: str | None, report: bool = True, strict: bool = False
) -> None:
    from corpusforge.label.job import describe_job, run_label_job
    from corpusforge.label.output_lock import RunGuard
    from corpusforge.label.summary import summary_lines
    from corpusforge.runtime.guard import Stopped

    console = Console()
    if dry_run:
        console.print(describe_job(job), markup=False, highlight=False)
        if ground_truth:
            console.print(f"# evaluation: test PMIDs of {ground_truth}", markup=False, highlight=False)
        return

    # a wrong model path is one line before any work, not after the progress lines; an openai backend names a
    # served model, and Ray/Slurm tasks may see paths this machine does not (they check when they load it)
    if job.model.backend.type != "openai" and job.executor.type == "local":
        problems = model_problems("model.name", job.model.name, "config.json")
        if problems:
            raise ConfigError(problems)

    def log(message: str) -> None:
        console.print(message, markup=False, highlight=False, soft_wrap=True)

    factory = None
    if not quiet and job.run.progress:
        factory = (lambda total: RichProgress(console, total)) if console.is_terminal else LineProgress.factory(log)
    try:
        with RunGuard(job.output_dir()):  # held until the report is written too
            if ground_truth:
                from corpusforge.label.evaluation import eval_markdown, run_label_eval

                run, reports = run_label_eval(job, ground_truth, progress_factory=factory, log=log)
            else:
                run, reports = run_label_job(job, progress_factory=factory, log=log), None
            if run.submitted:
                return
            for line in summary_lines(run.summary):
                log(line)
            if reports:
                console.print(eval_markdown(reports), markup=False, highlight=False)
            log(f"wrote {run.output_dir} (manifest.json, README.md, data/)")
            if report:
                from corpusforge.cli.build import write_html_report

                write_html_report(console, Path(run.output_dir))
            warnings = run.summary.get("warnings") or []
            if strict and warnings:
                raise BuildError(
                    f"--strict: the run is degenerate ({len(warnings)} warnings): " + "; ".join(warnings)
                )
    except Stopped as stop:
        log(
            f"stopped by {stop}: every finished request is in the label cache ({job.cache_path()}); "
            "run the same command again to resume"
        )
        raise typer.Exit(stop.exit_code) from None


class LineProgress:
    """Progress as plain lines when the output is a file or a pipe: one at least every 30 s while labelling
    (also while the model loads), with items done/total, rate and ETA (corpusforge.runtime.progress.Heartbeat)."""

    def __init__(self, log, total: int):
        from corpusforge.runtime.progress import Heartbeat

        self.total = total
        self.done = 0
        self.heartbeat = Heartbeat("label", total, "items", done=0, write=log, enabled=True).start()
        self.heartbeat.emit()

    @classmethod
    def factory(cls, log):
        return lambda total: cls(log, total)

    def items_done(self, n: int) -> None:
        self.done += n
        self.heartbeat.update(self.done)

    def wave(self, description: str, total: int) -> None:
        self.wave_description, self.wave_total, self.wave_done = description, total, 0
        self.heartbeat.update(phase=f"wave of {description}, 0/{total} done")

    def request_done(self) -> None:
        """Each answered request moves the line: a wave of long generations takes minutes before items finish."""
        self.wave_done += 1
        self.heartbeat.update(phase=f"wave of {self.wave_description}, {self.wave_done}/{self.wave_total} done")

    def close(self) -> None:
        self.heartbeat.stop(final=self.heartbeat.line())


class RichProgress:
    """Items done overall, and the requests of the wave being computed."""

    def __init__(self, console: Console, total: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        )
        self.bar.start()
        self.items = self.bar.add_task("items", total=total)
        self.requests = None

    def items_done(self, n: int) -> None:
        self.bar.advance(self.items, n)

    def close(self) -> None:
        self.bar.stop()

    def wave(self, description: str, total: int) -> None:
        if self.requests is not None:
            self.bar.remove_task(self.requests)
        self.requests = self.bar.add_task(f"  wave: {description}", total=total)

    def request_done(self) -> None:
        if self.requests is not None:
            self.bar.advance(self.requests)
