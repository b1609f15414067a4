"""The OpenAI-compatible backend: against vLLM's own server on 127.0.0.1, and against a scripted flaky server."""

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from corpusforge.errors import InputError
from corpusforge.label.job import run_label_job
from corpusforge.llm.backends.vllm import VLLMBackend
from tests.label.conftest import assert_valid_records, make_job, read_records

VLLM = {"type": "vllm", "dtype": "float32", "max_model_len": 1024, "enforce_eager": True}


def openai(base_url, **extra):
    return {"type": "openai", "base_url": base_url, "concurrency": 4, "timeout_s": 60, **extra}


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["voc", "ppl"])
def test_the_server_gives_the_labels_the_offline_engine_gives(
    strategy, vllm_server, vllm_engine, tiny_model_dir, tmp_path
):
    served = make_job(tiny_model_dir, tmp_path / "served", strategy, backend=openai(vllm_server), run={"limit": 4})
    run = run_label_job(served)
    records = read_records(tmp_path / "served")
    assert_valid_records(records)
    assert run.summary["labeled"] == 4 and {r["backend"] for r in records} == {"openai"}
    offline = make_job(tiny_model_dir, tmp_path / "offline", strategy, backend=VLLM, run={"limit": 4})
    backend = VLLMBackend(offline.model.backend, offline.model.name, True, llm=vllm_engine)
    backend.load()
    run_label_job(offline, backend=backend)
    reference = read_records(tmp_path / "offline")
    # same model, same greedy decoding, same chat template: the same labels and option probabilities
    assert [r["label"] for r in records] == [r["label"] for r in reference]
    for r, ref in zip(records, reference):
        assert r["option_probs"] == pytest.approx(ref["option_probs"], abs=2e-3)
        if strategy == "voc":
            assert [s["text"] for s in r["strategies"][0]["steps"]] == [
                s["text"] for s in ref["strategies"][0]["steps"]
            ]


@pytest.mark.slow
def test_a_server_that_ignores_the_constraint_leaves_items_unlabeled_not_crashed(
    vllm_server, tiny_model_dir, tmp_path
):
    # `constraint_field: none` sends no constraint, like a server that silently drops an unknown field
    job = make_job(tiny_model_dir, tmp_path / "out", "long-answer", run={"limit": 6},
                   backend=openai(vllm_server, constraint_field="none"), answer={"max_retries": 1})  # fmt: skip
    run = run_label_job(job)
    records = read_records(tmp_path / "out")
    assert_valid_records(records)
    unlabeled = [r for r in records if r["label"] is None]
    assert unlabeled, "the random model's free text should not parse"
    for r in unlabeled:
        answers = [s for s in r["strategies"][0]["steps"] if s["step"] == "answer"]
        assert len(answers) == 2 and r["raw_answer"] == answers[-1]["text"]
    assert run.summary["parse_failures"]["long-answer"] >= 2 * len(unlabeled)


class ScriptedServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that fails the first `fail_first` completions (503), then answers "A"."""

    fail_first = 2
    delay_s = 0.0
    calls = 0
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def _reply(self, status, payload):
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and hung up: that is what the timeout test wants

    def do_GET(self):
        self._reply(200, {"object": "list", "data": [{"id": "scripted"}]})

    def do_POST(self):
        json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with ScriptedServer.lock:
            ScriptedServer.calls += 1
            n = ScriptedServer.calls
        if n <= self.fail_first:
            return self._reply(503, {"error": "overloaded"})
        time.sleep(self.delay_s)
        top = [{"token": "A", "logprob": -0.1}, {"token": "B", "logprob": -2.5}, {"token": "C", "logprob": -3.0}]
        self._reply(200, {
            "choices": [{"message": {"role": "assistant", "content": "A"}, "finish_reason": "stop",
                         "logprobs": {"content": [{"token": "A", "logprob": -0.1, "top_logprobs": top}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 1},
        })  # fmt: skip


@pytest.fixture
def scripted_server():
    ScriptedServer.calls, ScriptedServer.fail_first, ScriptedServer.delay_s = 0, 2, 0.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_retries_with_backoff_then_labels(scripted_server, tiny_model_dir, tmp_path):
    job = make_job(tiny_model_dir, tmp_path / "out", "long-answer", run={"limit": 3},
                   backend=openai(scripted_server, backoff_s=0.01, max_retries=3, concurrency=1))  # fmt: skip
    run = run_label_job(job)
    records = read_records(tmp_path / "out")
    assert [r["label"] for r in records] == ["yes"] * 3
    expected = math.exp(-0.1) / (math.exp(-0.1) + math.exp(-2.5) + math.exp(-3.0))  # normalized over the options
    assert records[0]["option_probs"]["yes"] == pytest.approx(expected)
    assert ScriptedServer.calls == 2 + 3  # two 503s, retried, then three answers
    assert run.summary["requests"]["errors"] == {}


def test_timeouts_exhaust_retries_and_are_recorded_not_raised(scripted_server, tiny_model_dir, tmp_path):
    ScriptedServer.fail_first, ScriptedServer.delay_s = 0, 1.0
    job = make_job(tiny_model_dir, tmp_path / "out", "long-answer", run={"limit": 2},
                   backend=openai(scripted_server, timeout_s=0.2, backoff_s=0.01, max_retries=1))  # fmt: skip
    run = run_label_job(job)
    records = read_records(tmp_path / "out")
    assert_valid_records(records)
    assert [r["unlabeled_reason"] for r in records] == ["backend_error", "backend_error"]
    assert "after 2 tries" in records[0]["raw_answer"]
    assert run.summary["requests"]["errors"] == {"backend_error": 2}
    # failed requests are not cached: the next run tries them again
    ScriptedServer.delay_s = 0.0
    again = run_label_job(job)
    assert again.summary["requests"]["cache_hits"] == 0 and again.summary["labeled"] == 2


def test_an_unreachable_server_is_an_input_error(tiny_model_dir, tmp_path):
    job = make_job(tiny_model_dir, tmp_path / "out", "long-answer",
                   backend=openai("http://127.0.0.1:9/v1", backoff_s=0.01, max_retries=0))  # fmt: skip
    with pytest.raises(InputError, match="does not answer"):
        run_label_job(job)
