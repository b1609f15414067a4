"""A killed build resumes to the same dataset; the Ray executor runs the same recipe for real."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.builder.conftest import messy_recipe, write_messy_source, write_recipe


def dataset_rows(output: Path) -> list[tuple[str, str]]:
    import pyarrow.parquet as pq

    rows = []
    for path in sorted((output / "data").rglob("*.parquet")):
        table = pq.read_table(path, columns=["id", "text"])
        rows += list(zip(table["id"].to_pylist(), table["text"].to_pylist()))
    return sorted(rows)


def cli(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from corpusforge.cli import main; main()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        **kwargs,
    )


@pytest.fixture(scope="module")
def big_source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume-source")
    for i in range(4):  # four files, so four tasks each have work
        write_messy_source(folder / f"shard{i}", n_good=150, seed=i)
    return folder


def descendants(pid: int) -> set[int]:
    import psutil

    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def survivors(pids: set[int]) -> list[str]:
    import psutil

    alive = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            if p.status() != psutil.STATUS_ZOMBIE:
                alive.append(" ".join(p.cmdline())[:80])
        except psutil.NoSuchProcess:
            continue
    return alive


def wait_for_first_task(proc: subprocess.Popen, output: Path) -> set[int]:
    """Wait until the build's first source task is complete; returns every process the build started meanwhile
    (the sweeper, the fork server, its pool workers, the Manager server)."""
    first_marker = output / ".corpusforge" / "logs" / "source__web" / "completions" / "00000"
    deadline = time.time() + 120
    started: set[int] = set()
    while not first_marker.exists():
        assert proc.poll() is None, "the build finished before it could be stopped"
        assert time.time() < deadline
        started |= descendants(proc.pid)
        time.sleep(0.05)
    return started | descendants(proc.pid)


def assert_none_survive(started: set[int], within_s: float = 10) -> None:
    """The sweeper SIGTERMs, then SIGKILLs after its grace; multiprocessing's resource tracker exits by itself."""
    deadline = time.time() + within_s
    while survivors(started) and time.time() < deadline:
        time.sleep(0.2)
    assert not survivors(started), survivors(started)


@pytest.mark.slow
def test_kill_and_resume_gives_the_same_dataset(tmp_path, big_source):
    reference = tmp_path / "reference"
    recipe = write_recipe(tmp_path / "r.yaml", messy_recipe(big_source, reference, tasks=4, workers=2))
    done = cli("build", str(recipe))
    assert done.wait(timeout=300) == 0, done.stdout.read().decode()

    resumed = tmp_path / "resumed"
    proc = cli("build", str(recipe), "--output", str(resumed))
    started = wait_for_first_task(proc, resumed)
    # only the command, as `kill -9 PID` or an OOM killer would: what it started must not live on
    proc.kill()
    proc.wait()
    assert_none_survive(started)
    assert not (resumed / "manifest.json").exists()
    stats_of_finished_task = resumed / ".corpusforge" / "logs" / "source__web" / "stats" / "00000.json"
    finished_at = stats_of_finished_task.stat().st_mtime_ns

    again = cli("build", str(recipe), "--output", str(resumed))
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out.decode()
    assert stats_of_finished_task.stat().st_mtime_ns == finished_at  # finished work was not redone
    assert dataset_rows(resumed) == dataset_rows(reference)
    ids = [row[0] for row in dataset_rows(resumed)]
    assert len(ids) == len(set(ids))

    import json

    manifest = json.loads((resumed / "manifest.json").read_text())
    reference_manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["totals"] == reference_manifest["totals"]
    assert manifest["sources"]["web"]["balanced"]


@pytest.mark.slow
def test_ray_executor_builds_the_same_dataset(tmp_path, messy_source):
    pytest.importorskip("ray")
    folder, expected = messy_source
    local = tmp_path / "local"
    on_ray = tmp_path / "ray"
    # MinHash off: fewer stages to schedule; what is under test is the executor, the same for every stage
    local_data = {**messy_recipe(folder, local), "dedup": {"minhash": {"enabled": False}}}
    local_recipe = write_recipe(tmp_path / "local.yaml", local_data)
    ray_recipe = {**messy_recipe(folder, on_ray), "dedup": {"minhash": {"enabled": False}}}
    ray_recipe["executor"] = {"type": "ray", "tasks": 2, "num_cpus": 2, "cpus_per_task": 1, "mem_per_cpu_gb": 0.5}
    ray_path = write_recipe(tmp_path / "ray.yaml", ray_recipe)

    env = {**os.environ, "RAY_ADDRESS": "", "RAY_USAGE_STATS_ENABLED": "0"}
    for path in (local_recipe, ray_path):
        proc = cli("build", str(path), env=env)
        out, _ = proc.communicate(timeout=400)
        assert proc.returncode == 0, out.decode()[-3000:]
    assert dataset_rows(on_ray) == dataset_rows(local)
    import json

    manifest = json.loads((on_ray / "manifest.json").read_text())
    assert manifest["sources"]["web"]["kept"] == expected["kept"] + 1  # the near duplicate stays
    assert manifest["sources"]["web"]["balanced"]
    # the tasks really ran through Ray: datatrove's Ray executor marks its environment in the task logs
    logs = (on_ray / ".corpusforge" / "logs" / "source__web" / "logs").glob("task_*.log")
    assert any(p.stat().st_size for p in logs)
