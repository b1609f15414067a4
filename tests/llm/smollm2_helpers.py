"""What the SmolLM2 tests on transformers and on vLLM share: the JSON requests, a build of every LLM step over
../shared/data/real, and the re-check of every accepted rewrite."""

from __future__ import annotations

import json
from pathlib import Path

from datatrove.data import Document

from corpusforge.llm.prompts import Message
from corpusforge.llm.requests import GenerateRequest
from corpusforge.pipeline.steps.llm.checks import check_kg_rewrite, qa_schema, schema_validator
from corpusforge.pipeline.steps.llm.config import LLMDefaults
from corpusforge.pipeline.steps.llm.faithfulness import Given
from corpusforge.pipeline.steps.llm.rewrite import ExamRewrite
from tests.llm.conftest import REPO, read_rows

REAL = REPO.parent / "shared" / "data" / "real"

SCORE_SCHEMA = {"type": "object", "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 5}},
                "required": ["score"]}  # fmt: skip
JSON_PROMPTS = [
    ('Write 1 question-answer pair about insulin. Answer in JSON: {"pairs": [{"question": "...", "answer": "..."}]}',
     qa_schema(1, 80, 160)),
    ('How educational is this text, 0 to 5? "Insulin lowers blood glucose." Answer in JSON: {"score": N}',
     SCORE_SCHEMA),
]  # fmt: skip


def assert_json_answers_validate(backend) -> None:
    """A bounded QA schema and a score schema: valid JSON, within bounds, ended by the model (not max_tokens)."""
    requests = [
        GenerateRequest(prompt=(Message("user", prompt),), max_tokens=128, temperature=0.0, top_p=1.0, seed=0,
                        json_schema=json.dumps(schema))
        for prompt, schema in JSON_PROMPTS
    ]  # fmt: skip
    results = {}
    backend.run(requests, results.__setitem__)
    for i, (_, schema) in enumerate(JSON_PROMPTS):
        assert results[i].finish_reason == "stop", results[i].text
        value = json.loads(results[i].text)
        assert not schema_validator(schema)(value), value


def steps_recipe(
    out: Path,
    llm: dict,
    docs: int,
    max_tokens: dict[str, int] | None = None,
    max_edges: int = 3,
    qa: dict | None = None,
    name: str = "smollm2-steps",
) -> dict:
    """kg.rewrite on PharmacotherapyDB ego subgraphs, exam.rewrite on MedQA test items, qa_from_text on BC5CDR
    abstracts: `docs` documents each (also bench/bench_llm_checks.py's build, with longer generations)."""
    tokens = max_tokens or {"kg": 64, "exam": 64, "qa": 96}
    qa = qa or {"max_pairs": 1, "max_question_chars": 100, "max_answer_chars": 200}
    return {
        "name": name,
        "llm": llm,
        "output": {"path": str(out)},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "sources": {
            "graph": {
                "reader": {"type": "read.kg_triples", "path": str(REAL / "kg" / "pharmacotherapydb_indications.tsv"),
                           "columns": {"head": "drug", "relation": "category", "tail": "disease"}},
                "steps": [{"type": "kg.subgraphs",
                           "strategies": [{"kind": "ego", "max_edges": max_edges, "count": docs}]},
                          {"type": "kg.rewrite", "sampling": {"max_tokens": tokens["kg"]}}],
            },
            "medqa": {
                "reader": {"type": "read.exam", "path": str(REAL / "exams" / "medqa_us_4opt_test.jsonl"),
                           "format": "medqa", "limit": docs},
                "steps": [{"type": "exam.rewrite", "sampling": {"max_tokens": tokens["exam"]}}],
            },
            "abstracts": {
                "reader": {"type": "read.jsonl", "path": str(REAL / "pubmed" / "bc5cdr_train.jsonl"),
                           "text_field": "abstract", "id_field": "pmid", "limit": docs},
                "steps": [{"type": "llm.qa_from_text", **qa, "sampling": {"max_tokens": tokens["qa"]}}],
            },
        },
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
    }  # fmt: skip


def assert_every_document_answered(manifest: dict, docs: int) -> dict:
    """Each step answered every document (accepted or fallen back), and the JSON step parsed on every try."""
    steps = {e["step"]: e for e in manifest["llm_steps"]}
    assert set(steps) == {"kg.rewrite", "exam.rewrite", "llm.qa_from_text"}
    subgraphs = manifest["sources"]["graph"]["kept"]  # ego sampling may find fewer than `docs`
    for entry in steps.values():
        outcomes, expected = entry["outcomes"], subgraphs if entry["step"] == "kg.rewrite" else docs
        assert outcomes.get("accepted", 0) + outcomes.get("fell_back", 0) == expected, outcomes
    failed = steps["llm.qa_from_text"]["outcomes"]
    assert not failed.get("failed_invalid_json") and not failed.get("failed_schema_mismatch"), failed
    return steps


def assert_accepted_rewrites_pass_their_checks(out: Path, cache_dir: Path) -> int:
    """Run each step's checks again on every written rewrite (from the row alone); returns how many were checked."""
    exam_step = ExamRewrite(ExamRewrite.Params(type="exam.rewrite"), LLMDefaults(), cache_path=str(cache_dir))
    checked = 0
    for row in read_rows(out):
        meta = json.loads(row["meta"])
        if "kg.rewrite" in row["transforms"]:  # the triples alone (the draft is gone): names, numbers, form
            triples = meta["triples"]
            entities = list(dict.fromkeys(x for h, _, t in triples for x in (h, t)))
            given = Given("\n".join(" ".join(t) for t in triples), (), 0)
            assert check_kg_rewrite(row["text"], entities, given).ok, row["text"]
            checked += 1
        elif "exam.rewrite" in row["transforms"]:
            task = exam_step.prepare(Document(text="", id=row["id"], metadata={"mc": meta["mc"]}))
            assert task.check(row["text"]).ok, row["text"]
            checked += 1
    return checked
