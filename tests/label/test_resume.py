"""Kill the CLI part-way, run it again: nothing finished is sent again, and the output equals an uninterrupted run."""

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from corpusforge.label.job import run_label_job
from tests.label.conftest import PQAU_SAMPLE, SHORT, make_job, read_records

pytestmark = pytest.mark.slow

LIMIT, CHUNK, BATCH = 12, 4, 4
REQUESTS_PER_ITEM = 5  # voc: three explanations, a verification, an answer


def cli(model_dir, output):
    settings = [f"sampling.max_tokens.{k}={v}" for k, v in SHORT.items()]
    settings += [f"run.chunk_size={CHUNK}", f"model.backend.batch_size={BATCH}"]
    args = ["label", "pqa-u", "--input", str(PQAU_SAMPLE), "--model", str(model_dir), "--backend", "transformers",
            "--strategy", "voc", "--output", str(output), "--limit", str(LIMIT), "--quiet"]  # fmt: skip
    for s in settings:
        args += ["--set", s]
    return [sys.executable, "-c", "from corpusforge.cli import main; main()", *args]


def cached_rows(path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:  # the table is not created yet
        return 0


def comparable(records):
    return [
        (r["pmid"], r["label"], [[(s["step"], s["option"], s["text"]) for s in m["steps"]] for m in r["strategies"]])
        for r in records
    ]


def test_a_killed_run_resumes_without_resending_finished_requests(tiny_model_dir, tmp_path):
    total = LIMIT * REQUESTS_PER_ITEM
    out = tmp_path / "killed"
    cache = out / ".corpusforge" / "label_cache.sqlite"
    process = subprocess.Popen(cli(tiny_model_dir, out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while cached_rows(cache) < total // 4:
        assert process.poll() is None, process.stdout.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = cached_rows(cache)
    assert 0 < finished < total, "the run must be killed part-way"
    assert not (out / "manifest.json").exists()  # a killed run leaves nothing that looks finished

    resumed = subprocess.run(cli(tiny_model_dir, out), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    requests = json.loads((out / "manifest.json").read_text())["summary"]["requests"]
    # every finished request came from the cache; only the others went to the backend
    assert requests["cache_hits"] == finished
    assert requests["sent_to_backend"] == total - finished == requests["total"] - finished
    assert cached_rows(cache) == total

    # the same job, never interrupted, in this process
    job = make_job(tiny_model_dir, tmp_path / "whole", "voc", run={"limit": LIMIT, "chunk_size": CHUNK},
                   backend={"type": "transformers", "batch_size": BATCH})  # fmt: skip
    whole = run_label_job(job)
    assert whole.summary["requests"]["sent_to_backend"] == total
    resumed_records, whole_records = read_records(out), read_records(tmp_path / "whole")
    assert comparable(resumed_records) == comparable(whole_records)
    for a, b in zip(resumed_records, whole_records):
        assert a["option_probs"] == pytest.approx(b["option_probs"], abs=1e-4)
