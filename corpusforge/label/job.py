"""One label job from start to finish: check, load, label through the cache, write, summarize.

`run_label_job` is what the CLI calls; tests and benches call it with a backend they already started (one vLLM
engine per test session) or with a backend of their own behind the same interface.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from corpusforge import __version__
from corpusforge.config import dump_yaml
from corpusforge.errors import BuildError
from corpusforge.label.backends import make_backend
from corpusforge.label.backends.base import Backend
from corpusforge.label.cache import RequestCache
from corpusforge.label.config import LabelJob
from corpusforge.label.items import LabelItem, Quarantined, iter_input
from corpusforge.label.output import LabelOutput, card_sections
from corpusforge.label.prompts import STRATEGY_TEMPLATES, PromptBook
from corpusforge.label.records import arrow_schema
from corpusforge.label.runner import LabelRunner, Progress, select_items
from corpusforge.label.strategies import StrategyContext
from corpusforge.label.summary import SummaryBuilder, summary_lines
from corpusforge.output.schemas import validation_errors


@dataclass
class LabelRun:
    output_dir: Path
    summary: dict[str, Any]
    manifest: dict[str, Any]
    run_id: str


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
    lines.append(f"# cache: {job.cache_path()}")
    lines.append(f"# output: {job.output_dir()} (data/train-*.parquet, manifest.json, README.md)")
    return "\n".join(lines)


def run_label_job(
    job: LabelJob,
    *,
    backend: Backend | None = None,
    progress_factory: Callable[[int], Progress] | None = None,
    keep: Callable[[LabelItem], bool] | None = None,
    observers: list[RecordObserver] | None = None,
    log: Callable[[str], None] | None = None,
) -> LabelRun:
    """Label every selected input item; returns the summary and manifest (also written to the output directory)."""
    log = log or (lambda _: None)
    book = PromptBook(job.task.templates)
    book.check(job.strategies)
    output = LabelOutput(job.output_dir(), job.task.name, arrow_schema(job))
    output.start()
    summary = SummaryBuilder([o.text for o in job.task.options], job.strategies)

    def quarantine(entry: Quarantined) -> None:
        output.quarantine(entry)
        summary.quarantine(entry.reason)

    run = job.run
    items = list(select_items(iter_input(job.input), run.limit, run.num_shards, run.shard_index, quarantine, keep))
    log(f"{len(items)} items to label ({sum(summary.quarantined.values())} input records quarantined)")

    started = time.perf_counter()
    if backend is None:
        backend = make_backend(job)
        log(f"loading {job.model.name} with {backend.name}")
        backend.load()
    load_seconds = time.perf_counter() - started
    cache = RequestCache(job.cache_path(), description=f"{job.task.name} {job.strategy} {job.model.name}")
    progress = progress_factory(len(items)) if progress_factory else None
    runner = LabelRunner(job, backend, cache, StrategyContext(job, book), progress)
    observers = observers or []
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
    label_seconds = time.perf_counter() - started
    result = summary.build(runner.counters, label_seconds, load_seconds)
    lines = summary_lines(result)
    settings = {
        "model": job.model.name,
        "backend": backend.name,
        "strategy": job.strategy,
        "strategies": ", ".join(job.strategies),
        "template hashes": ", ".join(f"{s} {h}" for s, h in runner.ctx.hashes.items()),
        "answer": f"constrained={job.answer.constrained}, max_retries={job.answer.max_retries}",
        "long answer shown": job.task.use_long_answer,
        "chat template": job.task.chat,
    }
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
        "template_hashes": runner.ctx.hashes,
        "summary": result,
        "cache": {"path": str(job.cache_path()), "run_id": cache.run_id},
        "job": job.model_dump(mode="json"),
    }
    sections = card_sections(result, settings, lines)
    for observer in observers:
        extra, extra_sections = observer.finish()
        manifest.update(extra)
        sections += extra_sections
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
    return LabelRun(job.output_dir(), result, manifest, cache.run_id)


def _check_first(records: list[dict]) -> None:
    """Validate one record per chunk against the schema: cheap, and a broken writer fails on its first chunk."""
    if records:
        problems = validation_errors("label", records[0])
        if problems:
            raise BuildError("label record breaks schemas/label.schema.json (a bug):\n" + "\n".join(problems))
