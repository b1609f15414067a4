"""A label job split into tasks on datatrove's executors (local processes, Ray, a Slurm job array), merged into
one output directory exactly like a one-process run's: the command's side (each task's side: shards.py).

The command (the coordinator) reads the input once, writes the quarantine and gives each task a contiguous share
of the selected items' input positions (OUTPUT/.corpusforge/tasks/plan.json). When every task is complete, it
streams the tasks' parquet shards in task order into OUTPUT/data/ (re-chunked by run.chunk_size, so the files are
those of a one-process run), folds the task caches into the job's one cache, and writes one manifest and one card.

Resume: a rerun with the same command skips completed tasks (datatrove's completion markers); an unfinished task
is redone, and every request it had finished comes from its cache. A changed job (or number of tasks) starts the
tasks over, still answering from the cache. On Slurm the command submits the array and returns; run it again
after the array finishes to merge.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from corpusforge.errors import BuildError
from corpusforge.label.config import LabelJob
from corpusforge.label.finish import LabelRun, finish_output
from corpusforge.label.items import LabelItem
from corpusforge.label.ondemand import make_backend
from corpusforge.label.output_lock import output_lock
from corpusforge.label.prompts import PromptBook
from corpusforge.label.runner import Progress, RunCounters
from corpusforge.label.selection import start_output
from corpusforge.label.shards import (
    PLAN,
    PROGRESS,
    RESULT,
    TASK_CACHE,
    LabelTask,
    completed_ranks,
    device_settings,
    fold_caches,
    job_fingerprint,
    logs_dir,
    refuse_running_tasks,
    shares,
    task_dir,
    tasks_dir,
)
from corpusforge.label.strategies import StrategyContext
from corpusforge.output.dataset_dir import DATA_DIR, write_json_atomic
from corpusforge.runtime.executors import make_executor, ray_session, stderr_to
from corpusforge.runtime.guard import without_run_token


def make_label_executor(job: LabelJob, pipeline: list, logging_dir: Path):
    """The runtime's executor for the job's tasks: locally no more at a time than free device slots."""
    spec = job.executor
    return make_executor(
        spec,
        pipeline,
        spec.tasks,
        logging_dir,
        f"corpusforge-label-{job.task.name}",
        max_workers=pipeline[0].devices["slots"] if spec.type == "local" else None,
        slurm_logs_folder=logging_dir / "slurm",
    )


def _slurm_job_active(job_id: str | None) -> bool:
    if not job_id or shutil.which("squeue") is None:
        return False
    try:
        listed = subprocess.run(["squeue", "-h", "-j", str(job_id)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return listed.returncode == 0 and bool(listed.stdout.strip())


def prepare_tasks(
    job: LabelJob, positions: list[int], items: list[LabelItem], log: Callable[[str], None]
) -> dict[str, Any]:
    """The plan file: kept when the job, its shares and its items are unchanged (finished tasks stay), else
    started over.

    Task caches left by an earlier command are folded into the job's cache first, so nothing they hold is lost
    and every task of this command reads it.
    """
    out = job.output_dir()
    root = tasks_dir(out)
    refuse_running_tasks(out)
    fingerprint = job_fingerprint(job, positions, items)
    plan_path = root / PLAN
    previous = json.loads(plan_path.read_text()) if plan_path.is_file() else None
    folded = fold_caches(job.cache_path(), sorted(root.glob(f"*/{TASK_CACHE}")) if root.is_dir() else [])
    if folded:
        log(f"{folded} finished requests of earlier tasks moved into the label cache")
    if previous and previous.get("fingerprint") == fingerprint:
        return previous
    if root.is_dir():
        if previous:
            log(
                "the job, its input items or its number of tasks changed: the tasks start over "
                "(the label cache still answers what was asked before)"
            )
        shutil.rmtree(root)
    root.mkdir(parents=True)
    plan = {
        "fingerprint": fingerprint,
        "tasks": job.executor.tasks,
        "run_id": os.urandom(6).hex(),
        "shares": shares(positions, job.executor.tasks),
    }
    write_json_atomic(plan_path, plan)
    return plan


def run_executor(job: LabelJob, plan: dict[str, Any], progress: Progress | None, log: Callable[[str], None]) -> bool:
    """Run the tasks that are not complete; returns False when they were only submitted (Slurm)."""
    out = job.output_dir()
    spec = job.executor
    if not set(range(spec.tasks)) - completed_ranks(out):
        return True  # every task is complete (e.g. the Slurm array finished): merge
    step = LabelTask(job.model_dump(mode="json"), plan["run_id"], device_settings(job))
    log_file = tasks_dir(out) / "executor.log"
    if spec.type == "slurm":
        if _slurm_job_active(plan.get("slurm_job_id")):
            done = len(completed_ranks(out))
            log(f"Slurm job {plan['slurm_job_id']} is still queued or running ({done}/{spec.tasks} tasks done); "
                "run this command again when it finishes to merge the output")  # fmt: skip
            return False
        with without_run_token(), stderr_to(log_file):
            executor = make_label_executor(job, [step], logs_dir(out))
            executor.run()
        plan["slurm_job_id"] = str(executor.job_id)
        write_json_atomic(tasks_dir(out) / PLAN, plan)
        log(f"submitted Slurm job array {executor.job_id} ({spec.tasks} tasks; script "
            f"{logs_dir(out) / 'launch_script.slurm'}); run this command again when it finishes to merge the output")  # fmt: skip
        return False
    done = threading.Event()
    watcher = threading.Thread(target=_poll_progress, args=(out, spec.tasks, progress, done), daemon=True)
    watcher.start()
    try:
        with stderr_to(log_file), ray_session(spec) if spec.type == "ray" else contextlib.nullcontext():
            make_label_executor(job, [step], logs_dir(out)).run()
    except Exception as e:
        raise BuildError(_task_failure(out, spec.tasks, log_file, e)) from None
    finally:
        done.set()
        watcher.join()
    missing = sorted(set(range(spec.tasks)) - completed_ranks(out))
    if missing:
        raise BuildError(_task_failure(out, spec.tasks, log_file, None))
    return True


def _poll_progress(out: Path, tasks: int, progress: Progress | None, done: threading.Event) -> None:
    if progress is None:
        return
    reported = 0
    while True:
        total = 0
        for rank in range(tasks):
            with contextlib.suppress(OSError, ValueError):
                total += json.loads((task_dir(out, rank) / PROGRESS).read_text())["done"]
        if total > reported:
            progress.items_done(total - reported)
            reported = total
        if done.wait(1.0):
            return


def _task_failure(out: Path, tasks: int, log_file: Path, error: Exception | None) -> str:
    missing = sorted(set(range(tasks)) - completed_ranks(out))
    lines = [
        f"{len(missing)} of {tasks} label tasks did not finish ({missing[:10]})" + (f": {error}" if error else "")
    ]
    for rank in missing[:1]:
        task_log = logs_dir(out) / "logs" / f"task_{rank:05d}.log"
        if task_log.is_file():
            tail = [line for line in task_log.read_text(errors="replace").splitlines() if line.strip()][-8:]
            lines.append(f"last lines of {task_log}:")
            lines += [f"  {line[:300]}" for line in tail]
    lines.append(f"logs: {log_file} and {logs_dir(out) / 'logs'}; rerun the same command to resume")
    return "\n".join(lines)


def merged_counters(out: Path, tasks: int, done_before: set[int]) -> tuple[RunCounters, list[dict[str, Any]]]:
    """The tasks' counters summed. A task completed by an earlier command counts as answered from the cache:
    the summary says what this command did, as a resumed one-process run's does."""
    counters = RunCounters()
    results = []
    for rank in range(tasks):
        result = json.loads((task_dir(out, rank) / RESULT).read_text())
        results.append(result)
        add_counters(counters, result["counters"], reused=rank in done_before)
    return counters, results


def add_counters(total: RunCounters, part: dict[str, Any], reused: bool = False) -> None:
    if reused:
        total.items += part["items"]
        total.requests += part["requests"]
        total.cache_hits += part["requests"] - part["deduplicated"]
        total.deduplicated += part["deduplicated"]
        total.waves += part["waves"]
        return
    for name, value in part.items():
        if name == "errors":
            for error, n in value.items():
                total.errors[error] = total.errors.get(error, 0) + n
        else:
            setattr(total, name, getattr(total, name) + value)


def task_records(out: Path, tasks: int) -> Iterator[dict]:
    """Every task's records, task by task, shard by shard: the input order of a one-process run."""
    import pyarrow.parquet as pq

    for rank in range(tasks):
        for shard in sorted((task_dir(out, rank) / DATA_DIR).glob("*.parquet")):
            yield from pq.read_table(shard).to_pylist()


def run_tasks(job: LabelJob, *, progress_factory=None, keep=None, observers=None, log=None):
    """The coordinator: plan, run (or submit) the tasks, merge their outputs into one label output."""
    log = log or (lambda _: None)
    observers = observers or []
    out = job.output_dir()
    spec = job.executor
    with output_lock(out):
        book = PromptBook(job.task.templates)
        book.check(job.strategies)
        output, summary, items, positions = start_output(job, out, keep)  # the tasks read their own share
        plan = prepare_tasks(job, positions, items, log)
        done_before = completed_ranks(out)
        log(
            f"{len(positions)} items to label ({sum(summary.quarantined.values())} input records quarantined) "
            f"in {spec.tasks} tasks on {spec.type}"
            + (f", {len(done_before)} already complete" if done_before else "")
        )
        progress = progress_factory(len(positions)) if progress_factory else None
        started = time.perf_counter()
        try:
            if not run_executor(job, plan, progress, log):
                return LabelRun(out, None, None, plan["run_id"], submitted=True)
        finally:
            if progress is not None:
                progress.close()
        wall = time.perf_counter() - started
        counters, results = merged_counters(out, spec.tasks, done_before)
        buffer: list[dict] = []
        for record in task_records(out, spec.tasks):
            buffer.append(record)
            summary.add(record)
            for observer in observers:
                observer.add(record)
            if len(buffer) == job.run.chunk_size:
                output.write_records(buffer)
                buffer = []
        output.write_records(buffer)
        if output.rows != len(positions):
            raise BuildError(f"the tasks wrote {output.rows} records for {len(positions)} items (a bug)")
        fold_caches(job.cache_path(), sorted(tasks_dir(out).glob(f"*/{TASK_CACHE}")))
        for rank in range(spec.tasks):  # merged: a rerun plans again and is answered from the one cache
            shutil.rmtree(task_dir(out, rank))
        (tasks_dir(out) / PLAN).unlink()  # (the executor's logs stay, for the record)
        load = max((r["load_seconds"] for r in results), default=0.0)
        result = summary.build(counters, wall, load)
        hashes = StrategyContext(job, book).hashes
        executor_info = {
            "type": spec.type,
            "tasks": spec.tasks,
            "gpus_per_task": spec.gpus_per_task,
            "per_task": [
                {
                    k: r.get(k)
                    for k in (
                        "rank",
                        "items",
                        "load_seconds",
                        "label_seconds",
                        "cpu_seconds",
                        "engine_started",
                        "host",
                    )
                }
                for r in results
            ],
        }
        manifest = finish_output(
            job, output, result, make_backend(job), hashes, observers,
            cache={"path": str(job.cache_path()), "run_id": plan["run_id"]},
            extra={"engine_started": any(r["engine_started"] for r in results), "executor": executor_info},
        )  # fmt: skip
        return LabelRun(out, result, manifest, plan["run_id"])
