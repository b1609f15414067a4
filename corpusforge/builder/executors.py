"""One datatrove executor per stage, chosen by the recipe's `executor` section; the pipeline code is the same.

Local runs stages one after another on this machine. Ray runs each stage's tasks on a Ray cluster (or a local
Ray instance) and waits for them. Slurm submits each stage as a job array chained to the previous one with
dependencies, and returns at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from datatrove.executor.base import PipelineExecutor
from datatrove.pipeline.base import PipelineStep


def make_executor(
    spec, pipeline: list[PipelineStep], tasks: int, logging_dir: Path, job_name: str, depends=None
) -> PipelineExecutor:
    workers = tasks if spec.workers == -1 else min(spec.workers, tasks)
    if spec.type == "local":
        from datatrove.executor import LocalPipelineExecutor

        if workers > 1:
            preload_in_fork_server()
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
            qos=spec.qos,
            venv_path=spec.venv_path,
            condaenv=spec.condaenv,
            env_command=spec.env_command,
            sbatch_args=spec.sbatch_args or None,
            job_name=job_name,
            logging_dir=str(logging_dir),
            depends=depends,
        )
    raise ValueError(f"unknown executor type {spec.type!r}")


def preload_in_fork_server() -> None:
    """Have the fork server that starts the local workers import what they need once (worker_preload.py).

    Takes effect when the fork server starts, at the first stage with more than one worker; it then serves every
    later stage of the command. A module that fails to import there is skipped, and the worker imports it itself.
    """
    import multiprocess

    multiprocess.get_context("forkserver").set_forkserver_preload(["__main__", "corpusforge.builder.worker_preload"])


@contextlib.contextmanager
def ray_session(spec) -> Iterator[None]:
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


def start_ray(spec) -> None:
    """Connect to the recipe's Ray cluster, or start a local instance, unless Ray is already initialized."""
    import ray

    if ray.is_initialized():
        return
    if spec.address:
        ray.init(address=spec.address)
    else:
        ray.init(num_cpus=spec.num_cpus, include_dashboard=False, log_to_driver=False)
