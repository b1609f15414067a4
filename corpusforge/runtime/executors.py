"""Where a run's tasks execute: one schema of datatrove executors (local, Ray, Slurm) and one factory, shared by
`corpusforge build` (each stage's tasks) and `corpusforge label` (its label tasks); the pipeline code is the same.

Local runs the tasks on this machine, `workers` processes at a time. Ray runs them on a Ray cluster (or a local Ray
instance) and waits for them. Slurm submits them as a job array (a build chains its stages with dependencies) and
returns at once. The label job's variants (corpusforge/label/config.py) add the devices one task's engine needs
(GPUs, CPU cores) and have their own defaults; every field a recipe or label job may set is declared here or there.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field

from corpusforge.config import StrictModel

if TYPE_CHECKING:  # datatrove is imported when an executor is made, not when a recipe or job is validated
    from datatrove.executor.base import PipelineExecutor
    from datatrove.pipeline.base import PipelineStep


class LocalExecutorSpec(StrictModel):
    """datatrove's LocalPipelineExecutor: `tasks` shards, `workers` processes at a time on this machine."""

    type: Literal["local"] = "local"
    tasks: int = Field(2, ge=1)
    workers: int = Field(-1, description="-1: as many as tasks")


class SlurmExecutorSpec(StrictModel):
    """datatrove's SlurmPipelineExecutor: each stage becomes a job array; stages are chained by dependencies."""

    type: Literal["slurm"]
    tasks: int = Field(..., ge=1)
    workers: int = -1
    partition: str
    time: str = "12:00:00"
    cpus_per_task: int = 1
    mem_per_cpu_gb: int = 2
    qos: str = "normal"
    venv_path: str | None = None
    condaenv: str | None = None
    env_command: str | None = None
    sbatch_args: dict[str, Any] = Field(default_factory=dict)


class RayExecutorSpec(StrictModel):
    """datatrove's RayPipelineExecutor on a Ray cluster (`address`) or a local Ray instance (no address)."""

    type: Literal["ray"]
    tasks: int = Field(2, ge=1)
    workers: int = -1
    address: str | None = Field(None, description="e.g. ray://head:10001 or auto; none starts a local instance")
    num_cpus: int | None = Field(None, description="CPUs of a local instance (none: all)")
    cpus_per_task: int = 1
    mem_per_cpu_gb: float = 1
    gpus_per_task: int = Field(0, ge=0, description="GPUs Ray reserves per task (LLM steps on vLLM)")


ExecutorSpec = Annotated[Union[LocalExecutorSpec, SlurmExecutorSpec, RayExecutorSpec], Field(discriminator="type")]  # noqa: UP007


def make_executor(
    spec: LocalExecutorSpec | SlurmExecutorSpec | RayExecutorSpec,
    pipeline: list[PipelineStep],
    tasks: int,
    logging_dir: Path,
    job_name: str,
    depends=None,
    *,
    max_workers: int | None = None,
    fork_server_preload: list[str] | None = None,
    slurm_logs_folder: Path | None = None,
) -> PipelineExecutor:
    """The datatrove executor of `spec` running `pipeline` as `tasks` tasks.

    max_workers: at most this many at a time (a label job's free device slots); fork_server_preload: the modules
    the fork server of local workers imports once for all of them (see preload_in_fork_server);
    slurm_logs_folder: where Slurm writes the array's logs (datatrove's default: under logging_dir).
    """
    workers = tasks if spec.workers == -1 else min(spec.workers, tasks)
    if max_workers is not None:
        workers = min(workers, max_workers)
    if spec.type == "local":
        from datatrove.executor import LocalPipelineExecutor

        if workers > 1 and fork_server_preload:
            preload_in_fork_server(fork_server_preload)
        return LocalPipelineExecutor(
            pipeline, tasks=tasks, workers=workers, logging_dir=str(logging_dir), depends=depends
        )
    if spec.type == "ray":
        from datatrove.executor import RayPipelineExecutor

        return RayPipelineExecutor(
            pipeline,
            tasks=tasks,
            workers=workers,
            logging_dir=str(logging_dir),
            cpus_per_task=spec.cpus_per_task,
            mem_per_cpu_gb=spec.mem_per_cpu_gb,
            gpus_per_task=spec.gpus_per_task,
            depends=depends,
        )
    if spec.type == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        return SlurmPipelineExecutor(
            pipeline,
            tasks=tasks,
            workers=workers,
            time=spec.time,
            partition=spec.partition,
            cpus_per_task=spec.cpus_per_task,
            mem_per_cpu_gb=spec.mem_per_cpu_gb,
            gpus_per_task=getattr(spec, "gpus_per_task", 0),  # a label task's engine; a build stage has none
            qos=spec.qos or "",
            venv_path=spec.venv_path,
            condaenv=spec.condaenv,
            env_command=spec.env_command,
            sbatch_args=spec.sbatch_args or None,
            job_name=job_name,
            logging_dir=str(logging_dir),
            slurm_logs_folder=str(slurm_logs_folder) if slurm_logs_folder is not None else None,
            depends=depends,
        )
    raise ValueError(f"unknown executor type {spec.type!r}")


def preload_in_fork_server(modules: list[str]) -> None:
    """Have the fork server that starts the local workers import `modules` once (e.g. a build's worker_preload).

    Takes effect when the fork server starts, at the first stage with more than one worker; it then serves every
    later stage of the command. A module that fails to import there is skipped, and the worker imports it itself.
    """
    import multiprocess

    multiprocess.get_context("forkserver").set_forkserver_preload(modules)


@contextlib.contextmanager
def ray_session(spec: RayExecutorSpec) -> Iterator[None]:
    """Ray for the block: connected or started as `start_ray` does, and shut down after if this block started it
    (before the run's sweeper would end a local instance under a still connected driver)."""
    import ray

    started = not ray.is_initialized()
    start_ray(spec)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def start_ray(spec: RayExecutorSpec) -> None:
    """Connect to the spec's Ray cluster, or start a local instance, unless Ray is already initialized."""
    import ray

    if ray.is_initialized():
        return
    if spec.address:
        ray.init(address=spec.address)
    else:
        ray.init(num_cpus=spec.num_cpus, include_dashboard=False, log_to_driver=False)


@contextlib.contextmanager
def stderr_to(path: Path | None):
    """Send file descriptor 2 (datatrove's and its workers' logs) to `path`; progress stays on stdout."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "a") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
