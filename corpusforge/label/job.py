"""One label job from start to finish: check, load, label through the cache, write, summarize.

`run_label_job` is what the CLI calls; tests and benches call it with a backend they already started (one vLLM
engine per test session) or with a backend of their own behind the same interface.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from corpusforge.config import dump_yaml
from corpusforge.label.config import LabelJob
from corpusforge.label.coordinator import run_tasks
from corpusforge.label.finish import LabelRun, RecordObserver, check_first, finish_output
from corpusforge.label.items import LabelItem
from corpusforge.label.label_record import arrow_schema
from corpusforge.label.ondemand import OnDemandBackend, make_backend
from corpusforge.label.output import LabelOutput
from corpusforge.label.output_lock import output_lock
from corpusforge.label.prompts import STRATEGY_TEMPLATES, PromptBook
from corpusforge.label.runner import LabelRunner, Progress
from corpusforge.label.selection import select_job_items
from corpusforge.label.shards import use_cpu_threads
from corpusforge.label.strategies import StrategyContext
from corpusforge.label.summary import SummaryBuilder
from corpusforge.llm.backends.base import Backend
from corpusforge.llm.cache import RequestCache


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
    executor splits the items into tasks (corpusforge/label/coordinator.py) and merges their outputs into one.
    """
    log = log or (lambda _: None)
    if job.multi_task:
        if backend is not None:
            raise ValueError("a multi-task job starts one backend per task; do not pass one")
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
            check_first(records)
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
