"""Fixtures of the labeler tests: ONE vLLM engine and ONE vLLM OpenAI-compatible server per test session.

Both run the shared tiny random-weight Llama (head_dim 32 for vLLM's CPU attention). float32 rather than bfloat16
so vLLM's log-likelihoods can be compared with transformers' to a tight tolerance and greedy answers agree
between the offline engine and the server; on this model the cost is the same.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples" / "pubmedqa"
PQAU_SAMPLE = SAMPLES / "ori_pqau_sample.json"
PQAL_SAMPLE = SAMPLES / "ori_pqal_sample.json"
TEST_GT_SAMPLE = SAMPLES / "test_ground_truth_sample.json"
MAX_MODEL_LEN = 1024
# short generations: a random model writes noise, and the tests are about the labeler, not the text
SHORT = {"explain": 12, "verify": 12, "reason": 12, "answer": 4}


def job_data(model_dir: Path, output: Path, strategy: str = "long-answer", backend: dict | None = None, **extra):
    """A label job as the YAML/CLI would give it (tests tweak it with keyword sections)."""
    data = {
        "input": {"path": str(PQAU_SAMPLE)},
        "model": {"name": str(model_dir), "backend": backend or {"type": "transformers", "batch_size": 8}},
        "strategy": strategy,
        "sampling": {"max_tokens": dict(SHORT)},
        "run": {"output": str(output), "progress": False},
    }
    for key, value in extra.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return data


def make_job(*args, **kwargs):
    from corpusforge.config import validate
    from corpusforge.label.config import LabelJob

    return validate(LabelJob, job_data(*args, **kwargs))


def read_records(output: Path) -> list[dict]:
    import pyarrow.parquet as pq

    rows = []
    for path in sorted((output / "data").glob("train-*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


def assert_valid_records(records: list[dict]) -> None:
    """Every record validates, and every unlabeled one says why and keeps what the model wrote."""
    from corpusforge.output.schemas import validation_errors

    for record in records:
        assert validation_errors("label", record) == [], record["id"]
        if record["label"] is None:
            assert record["unlabeled_reason"], record["id"]
        else:
            assert record["label"] in ("yes", "no", "maybe")
            assert record["confidence"] is not None and 0 <= record["confidence"] <= 1


@pytest.fixture(scope="session")
def transformers_backend(tiny_model_dir):
    """The tiny model loaded once with transformers (loading is mostly importing transformers)."""
    from corpusforge.llm.backends.transformers import TransformersBackend
    from corpusforge.llm.config import TransformersBackendSpec

    backend = TransformersBackend(TransformersBackendSpec(batch_size=8), str(tiny_model_dir), chat=True)
    backend.load()
    return backend


@pytest.fixture(scope="session")
def vllm_engine(tiny_model_dir):
    """One vllm.LLM for the whole session (start ~20-60 s; the engine core is a spawned process)."""
    pytest.importorskip("vllm")
    from vllm import LLM

    llm = LLM(
        model=str(tiny_model_dir),
        dtype="float32",
        max_model_len=MAX_MODEL_LEN,
        enforce_eager=True,
        enable_prefix_caching=True,
        seed=0,
        # compact JSON under a schema (LLM build steps); the labeler's choice constraints are unaffected
        structured_outputs_config={"backend": "xgrammar", "disable_any_whitespace": True},
    )
    yield llm
    llm.llm_engine.engine_core.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def vllm_server(tiny_model_dir, tmp_path_factory):
    """vLLM's OpenAI-compatible server on 127.0.0.1, in its own process group, stopped by its PID at the end."""
    pytest.importorskip("vllm")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("vllm-server") / "server.log"
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(tiny_model_dir), "--host", "127.0.0.1", "--port", str(port),
        "--max-model-len", str(MAX_MODEL_LEN), "--enforce-eager", "--dtype", "float32", "--seed", "0",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1"}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 420
        while True:
            if process.poll() is not None:
                pytest.fail(f"vLLM server exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base_url + "/models", timeout=2) as response:
                    json.loads(response.read())
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"vLLM server not ready after 420 s:\n{log_path.read_text()[-3000:]}")
                time.sleep(1)
        yield base_url
    finally:
        # the server's own PID is its process group (start_new_session): stop it and its engine core
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
