"""`corpusforge train` owns its run: SIGKILL of the CLI leaves no process behind and the same command then
completes; SIGTERM stops with a checkpoint; a second run into the same output is refused; progress lines come
when the output is a file; metrics.jsonl has one line per step however often the run was resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.train.conftest import REPO, launcher_env, make_config, read_metrics
from train.runtime import shm_buffers

CLI = "from corpusforge.cli import main; main()"
STEPS = 40


def test_metrics_after_a_resume_keep_one_line_per_step(tmp_path):
    from train.run import MetricsLog

    metrics = MetricsLog(tmp_path, rank=0)
    for step in range(1, 8):
        metrics.write({"step": step, "loss": 1.0 / step})
    metrics.write({"step": 4, "eval_loss": 0.5})
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 8, "lo')  # a line cut short by a kill
    assert metrics.truncate_after(4) == 4  # steps 5, 6, 7 and the cut line
    for step in range(5, 9):
        metrics.write({"step": step, "loss": 1.0 / step})
    assert [m["step"] for m in read_metrics(tmp_path) if "loss" in m] == list(range(1, 9))
    assert metrics.truncate_after(8) == 0


def start_cli(config: Path, log: Path) -> subprocess.Popen:
    """`corpusforge train CONFIG` as a user starts it, with its output going to a file (not a terminal)."""
    env = {**launcher_env(), "CORPUSFORGE_PROGRESS_EVERY": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "train", str(config)],
        cwd=REPO,
        env=env,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the test's own handle on everything, should the CLI fail to clean up
    )


def run_processes(config: Path) -> list[psutil.Process]:
    """Every live process whose command line names this run's config (CLI, watchdog, launcher, ranks)."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.pid != os.getpid() and str(config) in " ".join(p.cmdline()) and p.status() != "zombie":
                found.append(p)
        except psutil.Error:
            continue
    return found


def logged_steps(run: Path) -> list[int]:
    return [m["step"] for m in read_metrics(run) if "loss" in m] if (run / "metrics.jsonl").is_file() else []


def wait_for_step(proc: subprocess.Popen, run: Path, step: int, log: Path, timeout: float = 300) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done = max(logged_steps(run), default=0)
        except json.JSONDecodeError:  # a line being written
            done = 0
        if done >= step:
            return done
        assert proc.poll() is None, log.read_text()[-4000:]
        time.sleep(0.05)
    raise AssertionError(f"no step {step} within {timeout}s:\n{log.read_text()[-4000:]}")


def wait_gone(config: Path, timeout: float) -> tuple[float, list]:
    start = time.monotonic()
    while (left := run_processes(config)) and time.monotonic() - start < timeout:
        time.sleep(0.02)
    return time.monotonic() - start, left


@pytest.fixture()
def run_config(tmp_path, tiny_model_dir, pt_dataset, deepspeed_ops):
    config = make_config(
        tmp_path,
        tiny_model_dir,
        pt_dataset,
        train={"max_steps": STEPS, "save_every": 2, "log_every": 1, "export_dtype": "float32"},
    )
    yield config, tmp_path / "run"
    for p in run_processes(config):  # whatever a failed assertion left: never leak into the next test
        p.kill()


@pytest.mark.slow
def test_sigkill_of_the_cli_leaves_nothing_running_and_the_same_command_completes(run_config, tmp_path, capsys):
    config, run = run_config
    buffers_before = set(shm_buffers("*"))
    first = start_cli(config, tmp_path / "first.log")
    wait_for_step(first, run, 3, tmp_path / "first.log")

    # a second run into the same output is refused at once, naming the PID that holds it
    from tests.train.test_cli import run_main

    code, lines = run_main(capsys, "train", str(config))
    assert code == 3 and lines[0] == f"error: {run} is in use by another training run: PID {first.pid} (" + (
        f"`corpusforge train {config}`, " + lines[0].split(", ")[-1]
    )

    assert len(run_processes(config)) >= 4  # the CLI, the watchdog, DeepSpeed's runner and launch.py, the rank
    first.send_signal(signal.SIGKILL)
    first.wait()
    took, left = wait_gone(config, timeout=10)
    print(f"SIGKILL of the CLI: every process of the run gone after {took:.2f}s")
    assert not left, [p.cmdline() for p in left]
    assert took < 3
    assert not (run / "export").exists()

    proc = subprocess.run(
        [sys.executable, "-c", CLI, "train", str(config)],
        cwd=REPO,
        env={**launcher_env(), "CORPUSFORGE_PROGRESS_EVERY": "1"},
        capture_output=True,
        text=True,
        timeout=400,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert f"took over {run / 'train.lock'} from PID {first.pid}" in out
    assert logged_steps(run) == list(range(1, STEPS + 1))  # one line per step, the resumed ones included
    assert (run / "export" / "config.json").is_file() and not (run / "train.lock").exists()
    assert "training start-up: " in out  # progress lines, although the output is not a terminal
    assert any(line.startswith("training: ") and "step/s" in line for line in out.splitlines())
    assert run_processes(config) == []
    # the killed run's all-reduce buffer (nobody unlinked it) is swept by the rerun: no process maps it
    assert set(shm_buffers("*")) <= buffers_before


@pytest.mark.slow
def test_sigterm_stops_cleanly_with_a_checkpoint(run_config, tmp_path):
    config, run = run_config
    log = tmp_path / "term.log"
    proc = start_cli(config, log)
    wait_for_step(proc, run, 1, log)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(120)
    took = time.monotonic() - sent
    out = log.read_text()
    last = max(logged_steps(run))
    print(f"SIGTERM: CLI exited {code} after {took:.1f}s at step {last}")
    assert code == 128 + signal.SIGTERM, out[-4000:]
    assert last < STEPS and not (run / "export").exists()
    assert (run / "checkpoints" / "latest").read_text().strip() == f"step-{last}"  # saved at the stop step
    assert (run / "checkpoints" / f"step-{last}" / "rng-0.pt").is_file()
    assert f"stopped (SIGTERM); the latest checkpoint is {run / 'checkpoints' / f'step-{last}'}" in out
    assert f"stopped at step {last}/{STEPS}" in out
    assert "Traceback" not in out
    assert wait_gone(config, timeout=5)[1] == []
    assert not (run / "train.lock").exists()
