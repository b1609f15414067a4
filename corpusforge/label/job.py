"""One label job from start to finish: check, load, label through the cache, write, summarize.

`run_label_job` is what the CLI calls; tests and benches call it with a backend they already started (one vLLM
engine per test session) or with a backend of their own behind the same interface.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from corpusforge import __version__
from corpusforge.config import dump_yaml
from corpusforge.errors import BuildError, ConfigError
from corpusforge.label.config import LabelJob
from corpusforge.label.items import LabelItem, Quarantined, iter_input
from corpusforge.label.lifecycle import output_lock
from corpusforge.label.output import LabelOutput, card_sections
from corpusforge.label.prompts import STRATEGY_TEMPLATES, PromptBook
from corpusforge.label.records import arrow_schema
from corpusforge.label.runner import LabelRunner, Progress, select_items
from corpusforge.label.strategies import StrategyContext
from corpusforge.label.summary import SummaryBuilder, summary_lines
from corpusforge.llm.backends import backend_for
from corpusforge.llm.backends.base import Backend
from corpusforge.llm.cache import RequestCache
from corpusforge.output.schemas import validation_errors


@dataclass
class LabelRun:
    output_dir: Path
    summary: dict[str, Any] | None  # None when the tasks were only submitted (Slurm)
    manifest: dict[str, Any] | None
    run_id: str
    submitted: bool = False


class RecordObserver(Protocol):
    """Sees every record as it is written; adds its findings to the manifest and card (e.g. the evaluation)."""

    def add(self, record: dict[str, Any]) -> None: ...

    def finish(self) -> tuple[dict[str, Any], list[tuple[str, str]]]: ...


def describe_job(job: LabelJob) -> str:
    """The resolved job and what it will do (for --dry-run): nothing is loaded or written."""
    book = PromptBook(job.task.templates)
    book.check(job.strategies)
    lines = [dump_yaml(job).rstrip(), "", "# plan"]
    lines.append(f"# strategies per item: {', '.join(job.strategies)}")
    for strategy in job.strategies:
        names = ", ".join(STRATEGY_TEMPLATES[strategy])
        lines.append(f"#   {strategy}: templates {names} (hash {book.strategy_hash(strategy)})")
    lines.append(f"# backend: {job.model.backend.type}, model {job.model.name}")
    spec = job.executor
    if job.multi_task:
        gpus = f", {spec.gpus_per_task} GPUs per task" if spec.gpus_per_task else ""
        lines.append(
            f"# executor: {spec.type}, {spec.tasks} tasks{gpus}, each with its own engine; one merged output"
            + (
                " (the command submits a job array and returns; run it again to merge)"
                if spec.type == "slurm"
                else ""
            )
        )
    else:
        lines.append("# executor: this process (one task)")
    lines.append(f"# cache: {job.cache_path()}")
    lines.append(f"# output: {job.output_dir()} (data/train-*.parquet, manifest.json, README.md)")
    return "\n".join(lines)


def make_backend(job: LabelJob) -> Backend:
    """The backend a job names, not yet loaded."""
    return backend_for(job.model.backend, job.model.name, job.task.chat)


class OnDemandBackend(Backend):
    """The job's backend, loaded when the first request the cache cannot answer reaches it.

    So a rerun answered wholly from the label cache never starts the engine (a vLLM start is 20-90 s and GBs of
    memory), and a run killed during the load has already written its quarantine and marked its folder.
    """

    def __init__(self, inner: Backend, log: Callable[[str], None], loaded: bool = False):
        super().__init__(inner.spec, inner.model, inner.chat)
        self.inner = inner
        self.name = inner.name
        self.constrains_choices = inner.constrains_choices
        self.loaded = loaded
        self.started = False  # whether this run loaded it
        self.load_seconds = 0.0
        self._log = log

    def load(self) -> None:
        if self.loaded:
            return
        if self.name != "openai":  # a typo in the model path is one line, not a traceback after the imports
            from corpusforge.sources_check import model_problems

            problems = model_problems("model.name", self.model, "config.json")
            if problems:
                raise ConfigError("\n".join(problems))
        self._log(f"loading {self.model} with {self.name}")
        started = time.perf_counter()
        self.inner.load()
        self.load_seconds = time.perf_counter() - started
        self.loaded = self.started = True

    def run(self, requests, on_result) -> None:
        self.load()
        self.inner.run(requests, on_result)

    def close(self) -> None:
        if self.started:
            self.inner.close()

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()


def run_label_job(
    job: LabelJob,
    *,
    backend: Backend | None = None,
    progress_factory: Callable[[int], Progress] | None = None,
    keep: Callable[[LabelItem], bool] | None = None,
    observers: list[RecordObserver] | None = None,
    log: Callable[[str], None] | None = None,
) -> LabelRun:
    """Label every selected input item; returns the summary and manifest (also written to the output directory).

    One local task labels in this process (with `backend` if given, else the job's, started on demand); any other
    executor splits the items into tasks (corpusforge/label/tasks.py) and merges their outputs into one.
    """
    log = log or (lambda _: None)
    if job.multi_task:
        if backend is not None:
            raise ValueError("a multi-task job starts one backend per task; do not pass one")
        from corpusforge.label.tasks import run_tasks

        return run_tasks(job, progress_factory=progress_factory, keep=keep, observers=observers, log=log)
    with output_lock(job.output_dir()):
        return _run_in_process(job, backend, progress_factory, keep, observers or [], log)


def _run_in_process(job, backend, progress_factory, keep, observers, log) -> LabelRun:
    book = PromptBook(job.task.templates)
    book.check(job.strategies)
    output = LabelOutput(job.output_dir(), job.task.name, arrow_schema(job))
    output.start()
    summary = SummaryBuilder([o.text for o in job.task.options], job.strategies)
    items = select_job_items(job, output, summary, keep)
    log(f"{len(items)} items to label ({sum(summary.quarantined.values())} input records quarantined)")
    if job.executor.type == "local" and job.executor.cpus_per_task and backend is None:
        from corpusforge.label.tasks import use_cpu_threads

        n = job.executor.cpus_per_task
        use_cpu_threads(n, job.model.backend.type, sorted(os.sched_getaffinity(0))[:n])

    cache = RequestCache(job.cache_path(), description=f"{job.task.name} {job.strategy} {job.model.name}")
    owned = backend is None
    engine = OnDemandBackend(make_backend(job) if owned else backend, log, loaded=not owned)
    progress = progress_factory(len(items)) if progress_factory else None
    runner = LabelRunner(job, engine, cache, StrategyContext(job, book), progress)
    started = time.perf_counter()
    try:
        for records in runner.label(items):
            _check_first(records)
            output.write_records(records)
            for record in records:
                summary.add(record)
                for observer in observers:
                    observer.add(record)
    finally:
        output.close()
        cache.close()
        if progress is not None:
            progress.close()
        if owned:
            engine.close()
    if owned and not engine.started and items:
        log("every request was in the label cache: the model was not loaded")
    label_seconds = time.perf_counter() - started - engine.load_seconds
    result = summary.build(runner.counters, label_seconds, engine.load_seconds)
    manifest = finish_output(
        job, output, result, engine, runner.ctx.hashes, observers,
        cache={"path": str(job.cache_path()), "run_id": cache.run_id},
        extra={"engine_started": engine.started},
    )  # fmt: skip
    return LabelRun(job.output_dir(), result, manifest, cache.run_id)


def select_job_items(
    job: LabelJob,
    output: LabelOutput,
    summary: SummaryBuilder,
    keep: Callable[[LabelItem], bool] | None = None,
    positions: list[int] | None = None,
) -> list[LabelItem]:
    """The items the job labels, in input order; quarantined input records go to the output and the summary.

    `positions`, when given, receives each selected item's position in the input (for splitting into tasks).
    """

    def quarantine(entry: Quarantined) -> None:
        output.quarantine(entry)
        summary.quarantine(entry.reason)

    run = job.run
    at = [-1]

    def records():
        for at[0], record in enumerate(iter_input(job.input)):  # noqa: B007 - the position is read below
            yield record

    items = []
    for item in select_items(records(), run.limit, run.num_shards, run.shard_index, quarantine, keep):
        items.append(item)
        if positions is not None:
            positions.append(at[0])
    return items


def finish_output(
    job: LabelJob,
    output: LabelOutput,
    result: dict[str, Any],
    backend: Backend,
    hashes: dict[str, str],
    observers: list[RecordObserver],
    cache: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the manifest and the card of a finished run (one process, or the merge of its tasks)."""
    lines = summary_lines(result)
    settings = {
        "model": job.model.name,
        "backend": backend.name,
        "strategy": job.strategy,
        "strategies": ", ".join(job.strategies),
        "template hashes": ", ".join(f"{s} {h}" for s, h in hashes.items()),
        "answer": f"constrained={job.answer.constrained}, max_retries={job.answer.max_retries}",
        "long answer shown": job.task.use_long_answer,
        "chat template": job.task.chat,
    }
    if job.multi_task:
        settings["executor"] = f"{job.executor.type}, {job.executor.tasks} tasks"
    manifest = {
        "corpusforge_version": __version__,
        "kind": "label",
        "task": job.task.name,
        "status": "ok",
        "input": job.input.model_dump(mode="json", exclude_none=True),
        "model": job.model.name,
        "backend": backend.describe(),
        "strategy": job.strategy,
        "strategies": job.strategies,
        "template_hashes": hashes,
        "summary": result,
        "cache": cache,
        "job": job.model_dump(mode="json"),
        **(extra or {}),
    }
    sections = card_sections(result, settings, lines)
    for observer in observers:
        observer_manifest, observer_sections = observer.finish()
        manifest.update(observer_manifest)
        sections += observer_sections
    if result["input_records"] != result["labeled"] + result["unlabeled"] + result["quarantined"]:
        raise BuildError("label counts do not add up (a bug)")
    output.finish(
        manifest,
        sections,
        title=f"{job.task.name} labelled by {Path(job.model.name).name} ({job.strategy})",
        intro=(
            f"Pseudo-labels for {job.task.name} written by `corpusforge label` with the `{job.strategy}` strategy "
            "(AntGLM-Med section 3.4.3: LLM-annotated PQA-U, Verification-of-Choice, PPL ranking)."
        ),
    )
    return manifest


def _check_first(records: list[dict]) -> None:
    """Validate one record per chunk against the schema: cheap, and a broken writer fails on its first chunk."""
    if records:
        problems = validation_errors("label", records[0])
        if problems:
            raise BuildError("label record breaks schemas/label.schema.json (a bug):\n" + "\n".join(problems))
