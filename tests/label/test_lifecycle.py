"""A label run owns its output and its processes: lock, signals, SIGKILL at any moment, reruns as it was."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpusforge.errors import BuildError
from corpusforge.label.job import run_label_job
from corpusforge.label.output_lock import acquire_output_lock, release_output_lock
from corpusforge.runtime import sweeper
from tests.label.conftest import PQAU_SAMPLE, SHORT, make_job

# progress lines every second (the output is a file, not a terminal: lines, not a bar)
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1", "CORPUSFORGE_PROGRESS_EVERY": "1"}
VLLM_SETTINGS = [
    "model.backend.dtype=float32",
    "model.backend.max_model_len=1024",
    "model.backend.enforce_eager=true",
]


def cli(model_dir, output, backend="transformers", limit=12, extra=()):
    args = ["label", "pqa-u", "--input", str(PQAU_SAMPLE), "--model", str(model_dir), "--backend", backend,
            "--strategy", "voc", "--output", str(output), "--limit", str(limit)]  # fmt: skip
    settings = [f"sampling.max_tokens.{k}={v}" for k, v in SHORT.items()] + ["run.chunk_size=4", *extra]
    if backend == "transformers":
        settings.append("model.backend.batch_size=4")
    for s in settings:
        args += ["--set", s]
    return [sys.executable, "-c", "from corpusforge.cli import main; main()", *args]


def start(command, log: Path):
    with open(log, "wb") as f:
        return subprocess.Popen(command, stdout=f, stderr=subprocess.STDOUT, env=ENV)


def cached_rows(output: Path) -> int:
    path = output / ".corpusforge" / "label_cache.sqlite"
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return 0
    try:
        return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def descendants(pid: int) -> dict[int, int]:
    """pid -> start time of every process under `pid` now."""
    table = sweeper.process_table()
    found, changed = {pid}, True
    while changed:
        changed = False
        for child, (ppid, _, _) in table.items():
            if ppid in found and child not in found:
                found.add(child)
                changed = True
    return {p: table[p][2] for p in found - {pid}}


def survivors(processes: dict[int, int]) -> list[int]:
    table = sweeper.process_table()
    return [p for p, start in processes.items() if p in table and table[p][2] == start]


def wait_for(condition, process, log: Path, timeout=600, what="the run"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"{what} ended early:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"{what}: timed out\n{log.read_text()[-3000:]}"
        time.sleep(0.05)


def test_a_second_run_on_the_same_output_is_refused_naming_the_pid(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from corpusforge.label.output_lock import acquire_output_lock as a; a(sys.argv[1]); "
         "print('held', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BuildError) as refused:
            acquire_output_lock(out)
        assert f"PID {holder.pid}" in str(refused.value) and str(out) in str(refused.value)
    finally:
        holder.kill()
        holder.wait()
    acquire_output_lock(out)  # free again once the holder is gone
    release_output_lock(out)


def test_a_rerun_answered_from_the_cache_does_not_load_the_model(tiny_model_dir, transformers_backend, tmp_path):
    job = make_job(tiny_model_dir, tmp_path / "out", "voc", run={"limit": 4})
    first = run_label_job(job, backend=transformers_backend)
    assert first.summary["requests"]["sent_to_backend"] == 20
    again = run_label_job(job)  # no backend given: the job's own, started only if a request needs it
    assert again.summary["requests"]["cache_hits"] == 20 and again.summary["requests"]["sent_to_backend"] == 0
    assert again.manifest["engine_started"] is False and again.summary["seconds"]["load"] == 0


@pytest.mark.slow
def test_killed_while_loading_then_stopped_by_sigterm_then_rerun_as_it_was(tiny_model_dir, tmp_path):
    out, log = tmp_path / "out", tmp_path / "run.log"
    command = cli(tiny_model_dir, out)

    # 1. SIGKILL while the model loads: the folder is marked as a label output, so the rerun is not refused
    process = start(command, log)
    wait_for(lambda: (out / ".corpusforge" / "label.lock").is_file(), process, log)
    time.sleep(1.0)
    process.kill()
    process.wait()
    assert cached_rows(out) == 0 and not (out / "manifest.json").exists()

    # 2. SIGTERM part-way: a clean stop, every finished request committed, nothing left running, lock free
    process = start(command, log)
    wait_for(lambda: cached_rows(out) >= 6, process, log)
    children = descendants(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM
    assert "stopped by SIGTERM" in log.read_text() and "Traceback" not in log.read_text()
    assert not survivors(children)
    assert not (out / ".corpusforge" / "label_cache.sqlite-wal").exists()  # closed cleanly, checkpointed
    finished = cached_rows(out)
    assert 6 <= finished < 60 and not (out / "manifest.json").exists()

    # 3. the same command completes and sends only what was not finished
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=ENV)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    requests = json.loads((out / "manifest.json").read_text())["summary"]["requests"]
    assert requests["cache_hits"] == finished and requests["sent_to_backend"] == 60 - finished
    # progress as lines when the output is not a terminal: done/total, rate, ETA or elapsed
    lines = [line for line in done.stdout.splitlines() if line.startswith("label: ")]
    assert any(re.search(r"\d+/12 items \(.*%\)", line) for line in lines), done.stdout[-2000:]
    assert re.search(r"12/12 items \(100.0%\), [\d.]+ items/s", lines[-1]), lines


@pytest.mark.slow
def test_sigkill_after_the_vllm_engine_loaded_leaves_no_process_and_the_rerun_completes(tiny_model_dir, tmp_path):
    pytest.importorskip("vllm")
    out, log = tmp_path / "out", tmp_path / "run.log"
    command = cli(tiny_model_dir, out, backend="vllm", limit=8, extra=VLLM_SETTINGS)
    process = start(command, log)
    # the engine answers requests (it is loaded), and its EngineCore and Worker processes are running
    wait_for(lambda: cached_rows(out) >= 4, process, log, what="the vLLM run")
    children = descendants(process.pid)
    names = {Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0] for p in children if Path(f"/proc/{p}").exists()}
    assert any(b"VLLM::EngineCore" in n for n in names), names
    process.kill()
    process.wait()
    deadline = time.monotonic() + 10  # the sweeper: SIGTERM, then SIGKILL after its grace period
    while survivors(children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not survivors(children), [Path(f"/proc/{p}/cmdline").read_bytes()[:60] for p in survivors(children)]

    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=ENV)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["summary"]["labeled"] + manifest["summary"]["unlabeled"] == 8
    assert manifest["summary"]["requests"]["cache_hits"] >= 4
