"""Labels follow what the model said, and degenerate runs are loud: a scripted OpenAI-compatible server writes each
kind of answer on purpose (a stated conclusion against a constrained "A", Chinese, no conclusion, a quoted option,
a repetition loop cut at max_tokens) and every record and count is checked against the script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from corpusforge.label.job import run_label_job
from corpusforge.label.summary import summary_lines
from tests.label.conftest import PQAU_SAMPLE, assert_valid_records, make_job, read_records

QUESTIONS = [item["QUESTION"] for item in json.loads(PQAU_SAMPLE.read_text()).values()]
LOOP = "The answer is not clear from the context. " * 20
# question index -> (reasoning text, finish_reason, expected stated label)
SCRIPT = {
    0: ("The trial shows mixed effects.\n\nSo the answer is C) maybe", "stop", "maybe"),
    1: ("根据上下文，证据不足以支持。答案是B", "stop", "no"),
    2: ("Mobilisation helped.\n\n**Answer:** A) yes", "stop", "yes"),
    3: ("The study is about blood pressure in children.", "stop", None),
    4: (LOOP, "length", None),
    5: ("Think about why the answer is B) no. It is hard to say.", "stop", None),
    6: ("The answer is not possible to determine.", "stop", None),
    7: ('The answer is: "Maybe."', "stop", "maybe"),
}


class ReasoningServer(BaseHTTPRequestHandler):
    """Free-text steps get the scripted reasoning of their item; every answer request gets "A" (a small model's
    bias), with A most likely among the options."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._reply({"object": "list", "data": [{"id": "scripted"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        messages = body["messages"]
        last = messages[-1]["content"]
        if len(messages) > 1 or "Reply with the letter" in last:  # an answer request
            text, finish = "A", "stop"
        else:
            index = next(i for i, q in enumerate(QUESTIONS) if f"QUESTION: {q}" in messages[0]["content"])
            text, finish, _ = SCRIPT.get(index, ("Nothing to conclude here.", "stop", None))
        top = [{"token": "A", "logprob": -0.2}, {"token": "B", "logprob": -2.0}, {"token": "C", "logprob": -2.5}]
        self._reply({
            "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": finish,
                         "logprobs": {"content": [{"token": text[:1], "logprob": -0.2, "top_logprobs": top}]}}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 8},
        })  # fmt: skip

    def _reply(self, payload):
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def reasoning_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ReasoningServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def openai(base_url):
    return {"type": "openai", "base_url": base_url, "concurrency": 4, "timeout_s": 30, "max_retries": 0}


@pytest.mark.parametrize("strategy", ["cot", "voc"])
def test_the_label_is_the_stated_answer_and_disagreements_are_counted(
    strategy, reasoning_server, tiny_model_dir, tmp_path
):
    job = make_job(tiny_model_dir, tmp_path / "out", strategy, backend=openai(reasoning_server),
                   run={"limit": len(SCRIPT)})  # fmt: skip
    run = run_label_job(job)
    records = read_records(tmp_path / "out")
    assert_valid_records(records)
    by_question = {r["question"]: r for r in records}
    for index, (_, _, stated) in SCRIPT.items():
        member = by_question[QUESTIONS[index]]["strategies"][0]
        assert member["stated_label"] == stated, (index, member["steps"][-2]["text"])
        assert member["constrained_label"] == "yes"
        if stated is None:
            assert (member["label"], member["label_source"], member["disagreement"]) == ("yes", "constrained", False)
        else:
            assert (member["label"], member["label_source"]) == (stated, "stated")
            assert member["disagreement"] == (stated != "yes")
        assert by_question[QUESTIONS[index]]["label"] == member["label"]
    answers = run.summary["answers"][strategy]
    stated = [s for _, _, s in SCRIPT.values() if s]
    assert answers["stated"] == len(stated) and answers["constrained"] == len(SCRIPT)
    assert answers["disagreements"] == sum(s != "yes" for s in stated) == 3
    per_item = 4 if strategy == "voc" else 1  # voc: three explanations (scripted alike) and the verification
    assert answers["generations"] == per_item * len(SCRIPT)
    assert answers["truncated"] == per_item and answers["repetition_loops"] == per_item
    assert run.summary["label_distribution"] == {"yes": 5, "no": 1, "maybe": 2}
    lines = "\n".join(summary_lines(run.summary))
    assert f"disagreements {answers['disagreements']}" in lines


def test_no_recorded_label_contradicts_its_stated_answer_unless_counted(reasoning_server, tiny_model_dir, tmp_path):
    job = make_job(tiny_model_dir, tmp_path / "out", "ensemble", backend=openai(reasoning_server),
                   ensemble={"strategies": ["cot", "voc"]}, run={"limit": len(SCRIPT)})  # fmt: skip
    run = run_label_job(job)
    contradictions = 0
    for record in read_records(tmp_path / "out"):
        for member in record["strategies"]:
            if member["stated_label"] is not None:
                assert member["label"] == member["stated_label"]
            contradictions += member["disagreement"]
    assert contradictions == sum(a["disagreements"] for a in run.summary["answers"].values()) == 6


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    code = "from corpusforge.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)


def test_an_all_yes_run_warns_everywhere_and_strict_fails(reasoning_server, tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    args = ["label", "pqa-u", "--input", str(PQAU_SAMPLE), "--model", str(tiny_model_dir), "--backend", "openai",
            "--strategy", "long-answer", "--output", str(out), "--limit", "12", "--quiet", "--no-report",
            "--set", f"model.backend.base_url={reasoning_server}"]  # fmt: skip
    done = run_cli(*args, "--strict")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "--strict: the run is degenerate" in done.stderr and "12 of 12 (100%) are 'yes'" in done.stderr
    assert "Traceback" not in done.stderr
    assert "WARNING: degenerate labels: 12 of 12 (100%) are 'yes'" in done.stdout  # the summary says it too
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["warnings"] == ["degenerate labels: 12 of 12 (100%) are 'yes'"]
    assert manifest["summary"]["warnings"] == manifest["warnings"]
    card = (out / "README.md").read_text()
    assert "## Warnings" in card and "degenerate labels: 12 of 12" in card
    # without --strict the same run succeeds (the output is kept either way), still warning
    again = run_cli(*args)
    assert again.returncode == 0 and "WARNING: degenerate labels" in again.stdout
