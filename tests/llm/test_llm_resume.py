"""A build killed (-9) in the middle of an LLM step resends, on rerun, exactly the requests that had not finished."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml

from tests.llm.conftest import REPO, kg_exam_recipe

pytestmark = pytest.mark.slow


def cache_rows(path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:  # the table is not there yet
        return 0


def test_kill_9_mid_step_then_rerun_sends_only_unfinished_requests(tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    llm = {
        "model": {"name": str(tiny_model_dir), "backend": {"type": "transformers", "batch_size": 4}},
        "sampling": {"max_tokens": 8},
        "max_retries": 0,
        "batch_size": 64,
    }
    recipe = kg_exam_recipe(out, llm, exam=False)
    recipe["sources"]["kg"]["steps"][0]["strategies"][0]["max_edges"] = 3  # short prompts: a quick test
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    command = [sys.executable, "-c", "from corpusforge.cli import main; main()", "build", str(path)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    cache = out / ".corpusforge" / "llm_cache.sqlite"

    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while cache_rows(cache) < 4:  # the first backend batch is stored; the rest is still being computed
            assert process.poll() is None, "the build ended before it could be killed"
            assert time.monotonic() < deadline, "no request finished in time"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the build and any process it started
        process.wait()
    finished = cache_rows(cache)
    assert finished >= 4

    rerun = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    kg = manifest["sources"]["kg"]
    step = kg["details"]["kg.rewrite"]
    total = step["llm_requests"]
    assert finished < total, "the kill came after every request had finished"
    # every request finished before the kill is answered by the cache; only the others are sent
    assert step.get("llm_cache_hits", 0) == finished
    assert step["llm_requests_sent"] == total - finished
    assert cache_rows(cache) == finished + step["llm_requests_sent"]  # nothing stored twice (INSERT OR IGNORE)
    # and every subgraph ends rewritten or with its template text, counted by reason
    outcomes = step.get("rewritten", 0) + sum(v for k, v in step.items() if k.startswith("fallback_"))
    assert outcomes == kg["kept"] == total
    entry = next(e for e in manifest["llm_steps"] if e["step"] == "kg.rewrite")
    assert (entry["sent"], entry["cache_hits"]) == (total - finished, finished)
