"""A label job split into tasks on datatrove's executors (local processes, Ray, a Slurm job array), merged into
one output directory exactly like a one-process run's.

The command (the coordinator) reads the input once, writes the quarantine and gives each task a contiguous share
of the selected items' input positions (OUTPUT/.corpusforge/tasks/plan.json). Each task starts its own engine
(one vLLM engine per task and its GPUs, an OpenAI-compatible client with its concurrency, or transformers),
labels its share through its own request cache (OUTPUT/.corpusforge/tasks/NNNNN/label_cache.sqlite, reading the
job's cache too) and writes parquet shards plus its counters. When every task is complete, the coordinator
streams the shards in task order into OUTPUT/data/ (re-chunked by run.chunk_size, so the files are those of a
one-process run), folds the task caches into the job's one cache, and writes one manifest and one card.

Resume: a rerun with the same command skips completed tasks (datatrove's completion markers); an unfinished task
is redone, and every request it had finished comes from its cache. A changed job (or number of tasks) starts the
tasks over, still answering from the cache. On Slurm the command submits the array and returns; run it again
after the array finishes to merge.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from datatrove.pipeline.base import PipelineStep

from corpusforge.errors import BuildError
from corpusforge.label.config import LabelJob
from corpusforge.label.items import LabelItem, iter_input
from corpusforge.label.output import LabelOutput
from corpusforge.label.runner import LabelRunner, Progress, RunCounters
from corpusforge.llm.cache import RequestCache
from corpusforge.output.dataset_dir import DATA_DIR, STATE_DIR, write_json_atomic
from corpusforge.runguard import without_run_token

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


def job_fingerprint(job: LabelJob, positions: list[int]) -> str:
    """What must not change for finished tasks to be kept: the job but where and how fast it runs, the shares."""
    data = job.model_dump(mode="json")
    data["executor"] = {"tasks": job.executor.tasks}
    data["run"].pop("progress", None)
    data["positions"] = hashlib.sha256(json.dumps(positions).encode()).hexdigest()
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


# ---- locks -------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def held_lock(path: Path, info: dict[str, Any] | None = None, wait: bool = False) -> Iterator[bool]:
    """flock `path`; yields whether it was taken (wait=False never blocks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        if info is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        yield True
    finally:
        os.close(fd)


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
    from corpusforge.label.job import OnDemandBackend, _check_first, make_backend
    from corpusforge.label.prompts import PromptBook
    from corpusforge.label.records import arrow_schema
    from corpusforge.label.strategies import StrategyContext

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
                    _check_first(records)
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


# ---- the coordinator ---------------------------------------------------------------------------------------------
def make_label_executor(job: LabelJob, pipeline: list, logging_dir: Path):
    spec = job.executor
    workers = spec.tasks if spec.workers == -1 else min(spec.workers, spec.tasks)
    if spec.type == "local":
        from datatrove.executor import LocalPipelineExecutor

        slots = pipeline[0].devices["slots"]
        return LocalPipelineExecutor(
            pipeline, tasks=spec.tasks, workers=min(workers, slots), logging_dir=str(logging_dir)
        )
    if spec.type == "ray":
        from datatrove.executor import RayPipelineExecutor

        return RayPipelineExecutor(
            pipeline,
            tasks=spec.tasks,
            workers=workers,
            logging_dir=str(logging_dir),
            cpus_per_task=spec.cpus_per_task,
            mem_per_cpu_gb=spec.mem_per_cpu_gb,
            gpus_per_task=spec.gpus_per_task,
        )
    from datatrove.executor import SlurmPipelineExecutor

    return SlurmPipelineExecutor(
        pipeline,
        tasks=spec.tasks,
        workers=workers,
        time=spec.time,
        partition=spec.partition,
        cpus_per_task=spec.cpus_per_task,
        mem_per_cpu_gb=spec.mem_per_cpu_gb,
        gpus_per_task=spec.gpus_per_task,
        qos=spec.qos or "",
        venv_path=spec.venv_path,
        condaenv=spec.condaenv,
        env_command=spec.env_command,
        sbatch_args=spec.sbatch_args or None,
        job_name=f"corpusforge-label-{job.task.name}",
        logging_dir=str(logging_dir),
        slurm_logs_folder=str(logging_dir / "slurm"),
    )


def _slurm_job_active(job_id: str | None) -> bool:
    if not job_id or shutil.which("squeue") is None:
        return False
    try:
        listed = subprocess.run(["squeue", "-h", "-j", str(job_id)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return listed.returncode == 0 and bool(listed.stdout.strip())


def prepare_tasks(job: LabelJob, positions: list[int], log: Callable[[str], None]) -> dict[str, Any]:
    """The plan file: kept when the job and its shares are unchanged (finished tasks stay), else started over.

    Task caches left by an earlier command are folded into the job's cache first, so nothing they hold is lost
    and every task of this command reads it.
    """
    out = job.output_dir()
    root = tasks_dir(out)
    refuse_running_tasks(out)
    fingerprint = job_fingerprint(job, positions)
    plan_path = root / PLAN
    previous = json.loads(plan_path.read_text()) if plan_path.is_file() else None
    folded = fold_caches(job.cache_path(), sorted(root.glob(f"*/{TASK_CACHE}")) if root.is_dir() else [])
    if folded:
        log(f"{folded} finished requests of earlier tasks moved into the label cache")
    if previous and previous.get("fingerprint") == fingerprint:
        return previous
    if root.is_dir():
        if previous:
            log("the job or its number of tasks changed: the tasks start over (the label cache still answers)")
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
    from corpusforge.builder.executors import ray_session
    from corpusforge.builder.runner import stderr_to

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
    from corpusforge.label.job import LabelRun, finish_output, make_backend, select_job_items
    from corpusforge.label.lifecycle import output_lock
    from corpusforge.label.prompts import PromptBook
    from corpusforge.label.records import arrow_schema
    from corpusforge.label.strategies import StrategyContext
    from corpusforge.label.summary import SummaryBuilder

    log = log or (lambda _: None)
    observers = observers or []
    out = job.output_dir()
    spec = job.executor
    with output_lock(out):
        book = PromptBook(job.task.templates)
        book.check(job.strategies)
        output = LabelOutput(out, job.task.name, arrow_schema(job))
        output.start()
        summary = SummaryBuilder([o.text for o in job.task.options], job.strategies)
        positions: list[int] = []
        items = select_job_items(job, output, summary, keep, positions)
        output.close()
        del items  # the tasks read their own share
        plan = prepare_tasks(job, positions, log)
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
