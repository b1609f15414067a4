"""Fixtures of the LLM-step tests: small recipes over the bundled samples, and a scripted OpenAI-compatible server.

The scripted server answers /v1/chat/completions like a model that follows instructions only sometimes: what it
writes is decided by the prompt (which entities, which answer it must keep) and by the try (the first try at
temperature 0, retries above it), so every branch of the steps (accepted, retried then accepted, fallback) is
exercised deterministically.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data" / "samples"


def kg_exam_recipe(output: Path, llm: dict, *, kg: bool = True, exam: bool = True, tasks: int = 1, **extra) -> dict:
    """kg triples -> subgraphs -> kg.rewrite, MedQA and CMExam samples -> exam.rewrite; no dedup (exact counts)."""
    sources = {}
    if kg:
        sources["kg"] = {
            "reader": {"type": "read.kg_triples", "path": str(SAMPLES / "kg" / "medical_kg_triples.tsv")},
            "steps": [
                {"type": "kg.subgraphs", "strategies": [{"kind": "ego", "radius": 1, "max_edges": 6, "count": 12}]},
                {"type": "kg.rewrite"},
            ],
        }
    if exam:
        sources["exam_medqa"] = {
            "reader": {"type": "read.exam", "path": str(SAMPLES / "exam" / "medqa_sample.jsonl"), "format": "medqa"},
            "steps": [{"type": "exam.rewrite"}],
        }
        sources["exam_cmexam"] = {
            "reader": {
                "type": "read.exam",
                "path": str(SAMPLES / "exam" / "cmexam_sample.csv"),
                "format": "cmexam",
                "encoding": "utf-8-sig",
            },  # fmt: skip
            "steps": [{"type": "exam.rewrite"}],
        }
    return {
        "name": "llm-steps-test",
        "seed": 7,
        "llm": llm,
        "output": {"path": str(output)},
        "executor": {"type": "local", "tasks": tasks, "workers": 1},
        "sources": sources,
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
        **extra,
    }


def run_build(recipe: dict, tmp_path: Path, overrides: list[str] | None = None, **kwargs):
    """Validate and build a recipe in this process (workers=1 keeps the steps here); returns the manifest."""
    import yaml
    from rich.console import Console

    from corpusforge.builder.recipe import load_recipe
    from corpusforge.builder.runner import build

    path = tmp_path / f"recipe-{abs(hash(json.dumps(recipe, sort_keys=True, default=str)))}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True))
    result = build(load_recipe(path, overrides), console=Console(quiet=True), quiet_logs=True, **kwargs)
    return result.manifest


def read_rows(output: Path) -> list[dict]:
    import pyarrow.parquet as pq

    rows = []
    for path in sorted((output / "data").rglob("*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


def assert_balanced(manifest: dict) -> None:
    assert manifest["status"] == "ok", manifest["status"]
    for name, source in manifest["sources"].items():
        assert source["balanced"], (name, source["balance"])


def step_details(manifest: dict, source: str, step: str) -> dict:
    return manifest["sources"][source]["details"].get(step, {})


# ---- the scripted server ---------------------------------------------------------------------------------------
ENTITIES = re.compile(
    r"(?:mention every one of these entities exactly as written|以下每个实体都必须原样出现)[:：](.*?)[。.]\n"
)
ANSWER = re.compile(r"(?:Correct answer|正确答案)[:：]\s*(.+)")


class Script:
    """What the scripted model writes for a prompt and try; counts every call."""

    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def answer(self, prompt: str, retry: bool, body: dict) -> str:
        if found := ENTITIES.search(prompt):
            entities = [e.strip() for e in re.split(r"[;；]", found.group(1)) if e.strip()]
            return self.kg(entities, retry)
        if found := ANSWER.search(prompt):
            return self.exam(found.group(1).strip(), retry, prompt)
        if "question-answer pairs" in prompt or "问答对" in prompt:
            return self.qa(prompt, retry)
        if '"score"' in prompt:
            return json.dumps({"score": len(prompt) % 6})
        return "plain answer"

    @staticmethod
    def kg(entities: list[str], retry: bool) -> str:
        # subgraphs naming diabetes (糖尿病) or an entity starting with "d" always lose an entity: fallback (not the
        # first entity only: which entity comes first depends on the sampling strategy)
        if any("糖尿病" in e or e.lower().startswith("d") for e in entities):
            return "This paragraph forgets the entities."
        if not retry:  # first try loses the last entity: retried
            return "In short: " + ", ".join(entities[:-1]) + "."
        return "In medicine, " + ", and ".join(entities) + " are related as the facts say."

    @staticmethod
    def exam(answer: str, retry: bool, prompt: str) -> str:
        if "CMExam" in prompt or re.search(r"[\u4e00-\u9fff]", answer):  # Chinese: a question mark every time
            return f"正确答案是{answer}吗？"
        if not retry:  # an option letter left in: retried
            return f"A. The correct choice is {answer}."
        return f"The key fact: {answer} is the right treatment in this situation."

    @staticmethod
    def qa(prompt: str, retry: bool) -> str:
        if not retry:
            return "not json at all"
        return json.dumps({"pairs": [
            {"question": "What is the main treatment discussed for this condition?",
             "answer": "The main treatment is careful dosing with regular monitoring of blood glucose."},
            {"question": "According to the passage, what was found?", "answer": "Something was found in the text."},
        ]})  # fmt: skip


@pytest.fixture()
def scripted_server():
    """An OpenAI-compatible server on 127.0.0.1 answering with Script; yields (base_url, script)."""
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, data: dict, status: int = 200):
            payload = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            self._send({"data": [{"id": "scripted"}]})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with script.lock:
                script.calls += 1
            prompt = "\n".join(m["content"] for m in body["messages"])
            text = script.answer(prompt, body.get("temperature", 0) > 0, body)
            finish = "stop"
            if isinstance(text, tuple):  # (text, finish_reason): a script may say the answer was cut
                text, finish = text
            self._send({
                "choices": [{"message": {"content": text}, "finish_reason": finish}],
                "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split())},
            })  # fmt: skip

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", script
    finally:
        server.shutdown()
        server.server_close()


def server_llm(base_url: str, **extra) -> dict:
    return {
        "model": {
            "name": "scripted",
            "backend": {"type": "openai", "base_url": base_url, "concurrency": 4, "max_retries": 0},
        },  # fmt: skip
        "max_retries": 1,
        **extra,
    }
