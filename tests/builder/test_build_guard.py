"""One build per output folder, and a stop signal ends a build cleanly (the SIGKILL case: test_resume_and_executors)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from corpusforge.builder.plan import make_plan
from corpusforge.builder.recipe import load_recipe
from corpusforge.builder.runner import LOCK_NAME, BuildGuard, prepare_output
from corpusforge.errors import BuildError
from tests.builder.conftest import messy_recipe, write_messy_source, write_recipe
from tests.builder.test_resume_and_executors import assert_none_survive, wait_for_first_task


def command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from corpusforge.cli import main; main()", *args]


def test_a_second_build_into_a_held_output_is_refused_in_one_line(tmp_path, messy_source):
    folder, _ = messy_source
    out = tmp_path / "out"
    recipe = write_recipe(tmp_path / "r.yaml", messy_recipe(folder, out))
    with BuildGuard(out):
        done = subprocess.run(command("build", str(recipe)), capture_output=True, text=True, timeout=120)
    assert done.returncode == 3  # InputError
    error = done.stderr.strip()
    assert f"is in use by another corpusforge build: PID {os.getpid()}" in error, error
    assert "Traceback" not in error and len(error.splitlines()) <= 3, error
    assert not (out / "manifest.json").exists()
    assert not (out / ".corpusforge" / LOCK_NAME).exists()  # released with the guard


def test_a_folder_that_is_not_an_output_is_refused_before_the_lock_writes_to_it(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(BuildError, match="is not a corpusforge output"), BuildGuard(out):
        pass
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_overwrite_replaces_the_output_but_keeps_the_lock_it_holds(tmp_path, messy_source):
    folder, _ = messy_source
    out = tmp_path / "out"
    first = make_plan(load_recipe(write_recipe(tmp_path / "a.yaml", messy_recipe(folder, out))))
    changed = messy_recipe(folder, out)
    changed["filters"][1]["min_chars"] = 60
    second = make_plan(load_recipe(write_recipe(tmp_path / "b.yaml", changed)))
    with BuildGuard(out) as guard:
        prepare_output(first, overwrite=False)
        (out / "data").mkdir()
        (out / "data" / "old.parquet").write_bytes(b"old")
        with pytest.raises(BuildError, match="different recipe"):
            prepare_output(second, overwrite=False)
        lock = out / ".corpusforge" / LOCK_NAME
        inode = lock.stat().st_ino
        prepare_output(second, overwrite=True)
        assert not (out / "data").exists()
        assert lock.stat().st_ino == inode and json.loads(lock.read_text())["pid"] == os.getpid()
        assert guard.lock.fd is not None


def start_messy_build(tmp_path: Path, workers: int) -> tuple[subprocess.Popen, Path, Path]:
    """`corpusforge build` of 4 messy shards in 4 tasks, started in a session of its own: (process, recipe, out)."""
    folder = tmp_path / "source"
    for i in range(4):
        write_messy_source(folder / f"shard{i}", n_good=150, seed=i)
    out = tmp_path / "out"
    recipe = write_recipe(tmp_path / "r.yaml", messy_recipe(folder, out, tasks=4, workers=workers))
    proc = subprocess.Popen(
        command("build", str(recipe)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    return proc, recipe, out


@pytest.mark.slow
def test_sigterm_stops_a_two_worker_build_and_the_rerun_completes(tmp_path):
    proc, recipe, out = start_messy_build(tmp_path, workers=2)
    started = wait_for_first_task(proc, out)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, output[-2000:]
    assert "stopped by SIGTERM" in output and "run the same command again" in output, output[-2000:]
    assert "Traceback" not in output, output[-2000:]
    assert_none_survive(started)

    again = subprocess.run(command("build", str(recipe)), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sources"]["web"]["balanced"] and manifest["sources"]["web"]["kept"] == 600


@pytest.mark.slow
def test_sigterm_to_the_whole_process_group_is_a_stop_not_an_error(tmp_path):
    """Ctrl-C, Slurm's scancel or `pkill -f` signal every process of the command, datatrove's Manager too. With one
    worker the task runs in the command itself; its `finally` then failed on the dead Manager, and a build of
    stage1_llm.yaml stopped that way ended in "unexpected error: ConnectionResetError" (exit 1)."""
    proc, _, out = start_messy_build(tmp_path, workers=1)
    started = wait_for_first_task(proc, out)
    os.killpg(proc.pid, signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, output[-2000:]
    assert "stopped by SIGTERM" in output and "unexpected error" not in output, output[-2000:]
    assert_none_survive(started)


def test_a_guard_entered_outside_the_main_thread_still_locks(tmp_path):
    import threading

    errors = []

    def run():
        try:
            with BuildGuard(tmp_path / "out"):
                assert (tmp_path / "out" / ".corpusforge" / LOCK_NAME).is_file()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not errors, errors
