"""Run a build plan: refuse to mix two recipes in one output, run the stages with progress, then finalize.

A rerun of the same recipe into the same output resumes: every stage skips the tasks whose completion marker
exists (datatrove's mechanism), unfinished tasks are redone from scratch (their files are rewritten, never
appended), and the manifest and card are recomputed from all tasks' stats.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from corpusforge.builder.finalize import finalize
from corpusforge.builder.inputs import (
    INPUTS_FILE,
    describe_changes,
    inventory_from_json,
    inventory_to_json,
    take_inventory,
)
from corpusforge.builder.inputs import changes as input_changes
from corpusforge.builder.plan import BuildPlan, Stage, make_plan
from corpusforge.builder.recipe import RecipeBase, check_inputs
from corpusforge.config import dump_yaml
from corpusforge.errors import BuildError, ConfigError
from corpusforge.output.dataset_dir import STATE_DIR, output_folder_problem, write_json_atomic, write_text_atomic
from corpusforge.runtime.executors import make_executor, ray_session, stderr_to
from corpusforge.runtime.guard import RunGuard, without_run_token
from corpusforge.runtime.lock import RunLock
from corpusforge.runtime.progress import Heartbeat

FINGERPRINT = "recipe.fingerprint.json"
LOCK_NAME = "build.lock"
#: what the fork server of local workers imports once for every worker of every stage (worker_preload.py)
FORK_SERVER_PRELOAD = ["__main__", "corpusforge.builder.worker_preload"]


@dataclass
class BuildResult:
    plan: BuildPlan
    manifest: dict[str, Any] | None  # None when the stages were only submitted (Slurm)


def recipe_fingerprint(recipe: RecipeBase) -> str:
    """What must not change between a run and its resume: everything but how many processes run at once."""
    data = recipe.model_dump(mode="json")
    data["executor"] = {"tasks": data["executor"]["tasks"]}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def check_output_dir(output_dir: Path) -> None:
    """Refuse a folder that holds something other than a corpusforge output, before anything is written to it."""
    if output_dir.is_dir() and any(output_dir.iterdir()) and not (output_dir / STATE_DIR).is_dir():
        raise BuildError(
            f"{output_dir} exists and is not a corpusforge output; choose another --output (nothing was written)"
        )


class BuildGuard(RunGuard):
    """`with BuildGuard(output_dir):` one build per output folder (OUTPUT/.corpusforge/builder.lock), and nothing the
    build started (datatrove's pool workers, its Manager server, a local Ray instance) outlives it, even when the
    command is SIGKILLed; a stop signal raises `Stopped` (corpusforge/runtime/guard.py)."""

    def __init__(self, output_dir: str | Path):
        super().__init__(output_dir)
        self.lock = RunLock(Path(output_dir) / STATE_DIR / LOCK_NAME, "corpusforge build")

    def take_lock(self) -> int:
        check_output_dir(self.output_dir)
        return self.lock.acquire().fd

    def release_lock(self) -> None:
        self.lock.release()


def prepare_output(plan: BuildPlan, overwrite: bool) -> None:
    """Start, resume or (with --overwrite) replace the build in the output folder.

    A resume keeps finished tasks, so it is allowed only when both the recipe and its input files are the ones the
    output was built from (runner.py's recipe fingerprint, inputs.py's inventory); anything else is refused in one
    line, and `--overwrite` always starts the build over.
    """
    out, state = plan.output_dir, plan.state_dir
    fingerprint = recipe_fingerprint(plan.recipe)
    check_output_dir(out)
    previous_inputs = None
    if (state / FINGERPRINT).exists() and overwrite:
        clear_output(out, keep=state / LOCK_NAME)
    elif (state / FINGERPRINT).exists():
        previous = json.loads((state / FINGERPRINT).read_text()).get("fingerprint")
        if previous != fingerprint:
            raise BuildError(
                f"{out} holds a build of a different recipe (or different settings); rerun with --overwrite "
                "to replace it, or choose another --output"
            )
        previous_inputs = read_inventory(state)
        if previous_inputs is None:
            raise BuildError(
                f"{out} was built by an earlier corpusforge that did not record its input files; rerun with "
                "--overwrite to rebuild it, or choose another --output"
            )
    inventory = take_inventory(plan.recipe, out, previous_inputs)
    if previous_inputs is not None and (changed := input_changes(previous_inputs, inventory)):
        raise BuildError(
            f"the input files changed since {out} was built ({describe_changes(changed)}); rerun with "
            "--overwrite to rebuild it, or choose another --output"
        )
    state.mkdir(parents=True, exist_ok=True)
    # the inventory first: a fingerprint without one is an output of a corpusforge that did not record inputs
    write_json_atomic(state / INPUTS_FILE, inventory_to_json(inventory))
    write_json_atomic(state / FINGERPRINT, {"fingerprint": fingerprint})
    write_text_atomic(state / "recipe.resolved.yaml", dump_yaml(plan.recipe))


def read_inventory(state: Path) -> dict | None:
    path = state / INPUTS_FILE
    return inventory_from_json(json.loads(path.read_text())) if path.is_file() else None


def clear_output(out: Path, keep: Path) -> None:
    """Empty `out` for --overwrite, but for `keep` (the lock this run holds: unlinking it would let a second run in)."""
    for path in out.iterdir():
        if path == keep.parent:
            clear_output(path, keep)
        elif path != keep:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def _completed(plan: BuildPlan, stage: Stage) -> int:
    folder = plan.stage_logs(stage) / "completions"
    return len(list(folder.iterdir())) if folder.is_dir() else 0


def run_stages(plan: BuildPlan, console: Console) -> bool:
    """Run every stage; returns False when the stages were only submitted (Slurm)."""
    spec = plan.recipe.executor
    with ray_session(spec) if spec.type == "ray" else contextlib.nullcontext():
        return _run_stages(plan, console, spec)


def _run_stages(plan: BuildPlan, console: Console, spec) -> bool:
    depends = None
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tasks"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as progress:
        for i, stage in enumerate(plan.stages, 1):
            label = f"[{i}/{len(plan.stages)}] {stage.name}"
            bar = progress.add_task(label, total=stage.tasks, completed=_completed(plan, stage))
            executor = make_executor(
                spec,
                stage.build(),
                stage.tasks,
                plan.stage_logs(stage),
                f"corpusforge-{stage.log_folder}",
                depends,
                fork_server_preload=FORK_SERVER_PRELOAD,
            )
            if spec.type == "slurm":
                with without_run_token():  # a job that lands on this machine is not this command's to sweep
                    executor.run()
                depends = executor
                continue
            done = threading.Event()
            # a log file or a pipe gets no bar: a line at least every 30 s instead (done/total tasks, rate, ETA)
            heartbeat = Heartbeat(
                f"build {label}",
                total=stage.tasks,
                unit="tasks",
                done=_completed(plan, stage),
                enabled=not console.is_terminal,
                write=lambda text: console.print(text, markup=False, highlight=False),
            )

            def poll(stage=stage, bar=bar, done=done, heartbeat=heartbeat):
                while not done.wait(0.5):
                    completed = _completed(plan, stage)
                    progress.update(bar, completed=completed)
                    heartbeat.update(done=completed)

            watcher = threading.Thread(target=poll, daemon=True)
            watcher.start()
            heartbeat.start()
            started = time.time()
            try:
                executor.run()
            finally:
                done.set()
                watcher.join()
                heartbeat.stop()
            progress.update(bar, completed=_completed(plan, stage))
            if not console.is_terminal:
                console.print(
                    f"{label}: {_completed(plan, stage)}/{stage.tasks} tasks done ({time.time() - started:.1f}s)"
                )
            if _completed(plan, stage) < stage.tasks:
                raise BuildError(
                    f"stage {stage.name}: only {_completed(plan, stage)}/{stage.tasks} tasks finished; "
                    f"see the logs in {plan.stage_logs(stage)}"
                )
    return spec.type != "slurm"


def preflight(recipe: RecipeBase) -> None:
    """ConfigError naming every input the recipe points at that is not there, before anything is written."""
    problems = check_inputs(recipe)
    if output_problem := output_folder_problem("output.path (--output)", recipe.output.path):
        problems.append(output_problem)
    if problems:
        raise ConfigError(problems)


def build(
    recipe: RecipeBase,
    *,
    strict: bool = False,
    overwrite: bool = False,
    console: Console | None = None,
    quiet_logs: bool = False,
) -> BuildResult:
    """Build the dataset a recipe describes. Raises ConfigError before any I/O when inputs are missing."""
    console = console or Console()
    preflight(recipe)
    plan = make_plan(recipe)
    prepare_output(plan, overwrite)
    log = plan.state_dir / "build.log" if quiet_logs else None
    try:
        with stderr_to(log):
            finished = run_stages(plan, console)
    except Exception as e:
        if log is not None and not isinstance(e, BuildError):
            console.print(f"[red]a stage failed[/]; datatrove's logs are in {log} and {plan.logs_dir}")
        raise
    if not finished:
        console.print(
            f"submitted {len(plan.stages)} Slurm stages; run the same command again when they finish "
            "to write the manifest and card"
        )
        return BuildResult(plan, None)
    manifest = finalize(plan, strict=strict)
    return BuildResult(plan, manifest)


def describe_plan(recipe: RecipeBase) -> str:
    """The dry run: the resolved recipe and the stages it would run, touching nothing."""
    plan = make_plan(recipe)
    problems = check_inputs(recipe)
    text = f"# resolved recipe\n{dump_yaml(recipe)}\n# plan\n{plan.describe()}\n"
    if problems:
        text += "\n# problems (the build would stop here)\n" + "\n".join(f"  - {p}" for p in problems) + "\n"
    return text


__all__ = ["BuildResult", "build", "describe_plan", "STATE_DIR"]
