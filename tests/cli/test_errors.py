"""Errors a user can cause end as one or two lines naming the value and what to do; tracebacks only with --debug."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = "from corpusforge.cli import main; main()"
REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    for key in ("CORPUSFORGE_DEBUG", "HF_HUB_OFFLINE"):
        full_env.pop(key, None)
    return subprocess.run(
        [sys.executable, "-c", CLI, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=120
    )


def assert_short_error(proc: subprocess.CompletedProcess, first_line_has: str, code: int) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode == code, out
    assert "Traceback" not in out, out
    lines = proc.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, out
    assert first_line_has in lines[0], out
    return out


@pytest.fixture()
def built_dir(tmp_path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "ds" / "data").mkdir(parents=True)
    (tmp_path / "ds" / "README.md").write_text("# test\n")
    pq.write_table(pa.table({"text": ["a"]}), tmp_path / "ds" / "data" / "train-00000.parquet")
    return tmp_path / "ds"


def test_push_names_a_bad_repo_id_before_any_request(built_dir):
    proc = run_cli(
        "push", str(built_dir), "org/na/me", env={"HF_TOKEN": "dummy", "HF_ENDPOINT": "http://127.0.0.1:9"}
    )
    out = assert_short_error(proc, "repo id 'org/na/me'", 2)
    assert "NAMESPACE/NAME" in out


def test_push_to_an_unreachable_hub_says_so_in_one_line(built_dir):
    from train.runtime import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    proc = run_cli("push", str(built_dir), "org/name", env={"HF_TOKEN": "dummy", "HF_ENDPOINT": endpoint})
    out = assert_short_error(proc, f"cannot reach the Hub at {endpoint}", 3)
    assert "dummy" not in out


def test_debug_shows_the_traceback(built_dir):
    proc = run_cli("push", str(built_dir), "org/na/me", "--debug", env={"HF_TOKEN": "dummy"})
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_build_push_checks_the_repo_id_before_building(tmp_path):
    proc = run_cli(
        "build",
        str(REPO / "recipes" / "stage1.yaml"),
        "-o",
        str(tmp_path / "out"),
        "--push",
        "bad id!",
        env={"HF_TOKEN": "dummy"},
        cwd=REPO,
    )
    assert_short_error(proc, "repo id 'bad id!'", 2)
    assert not (tmp_path / "out").exists()
