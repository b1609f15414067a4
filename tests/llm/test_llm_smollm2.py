"""The LLM steps on a real instruct model (SmolLM2-135M-Instruct, transformers on CPU) and real documents.

What a real model writes is what the checks are for: every rewrite the build accepted must pass its step's checks
when they are run again on the written text, and JSON requests on the transformers backend come back as JSON that
validates against the (bounded) schema, because xgrammar constrains the decoding.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datatrove.data import Document

from corpusforge.llm.backends.transformers import TransformersBackend
from corpusforge.llm.config import TransformersBackendSpec
from corpusforge.llm.prompts import Message
from corpusforge.llm.requests import GenerateRequest
from corpusforge.pipeline.steps.llm.checks import check_kg_rewrite, qa_schema, schema_validator
from corpusforge.pipeline.steps.llm.config import LLMDefaults
from corpusforge.pipeline.steps.llm.faithfulness import Given
from corpusforge.pipeline.steps.llm.rewrite import ExamRewrite
from tests.llm.conftest import REPO, assert_balanced, read_rows, run_build

REAL = REPO.parent / "shared" / "data" / "real"
DOCS = 3  # per step: small, the CI machine has 2 cores

pytestmark = [pytest.mark.realmodel, pytest.mark.slow]


@pytest.fixture(scope="module")
def real_data():
    if not (REAL / "exams" / "medqa_us_4opt_test.jsonl").is_file():
        pytest.skip(f"real data not found at {REAL}")
    return REAL


def test_json_answers_validate_on_transformers(smollm2_dir):
    """A bounded QA schema and a score schema: valid JSON, within bounds, ended by the model (not max_tokens)."""
    backend = TransformersBackend(TransformersBackendSpec(), str(smollm2_dir), chat=True)
    backend.load()
    qa = json.dumps(qa_schema(1, 80, 160))
    score = json.dumps({"type": "object", "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 5}},
                        "required": ["score"]})  # fmt: skip
    prompts = [
        ('Write 1 question-answer pair about insulin. Answer in JSON: {"pairs": [{"question": "...", '
         '"answer": "..."}]}', qa),
        ('How educational is this text, 0 to 5? "Insulin lowers blood glucose." Answer in JSON: {"score": N}', score),
    ]  # fmt: skip
    requests = [
        GenerateRequest(prompt=(Message("user", p),), max_tokens=128, temperature=0.0, top_p=1.0, seed=0,
                        json_schema=s)
        for p, s in prompts
    ]  # fmt: skip
    results = {}
    backend.run(requests, lambda i, r: results.__setitem__(i, r))
    backend.close()
    for i, (_, schema) in enumerate(prompts):
        assert results[i].finish_reason == "stop", results[i].text
        value = json.loads(results[i].text)
        assert not schema_validator(json.loads(schema))(value), value


def test_each_llm_step_on_real_documents_accepts_only_checked_answers(smollm2_dir, real_data, tmp_path):
    out = tmp_path / "out"
    llm = {
        "model": {"name": str(smollm2_dir), "backend": {"type": "transformers", "batch_size": 8}},
        "sampling": {"temperature": 0.0, "top_p": 1.0, "seed": 0},
        "max_retries": 1,
    }
    recipe = {
        "name": "smollm2-steps",
        "llm": llm,
        "output": {"path": str(out)},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "sources": {
            "graph": {
                "reader": {"type": "read.kg_triples", "path": str(real_data / "kg" / "pharmacotherapydb_indications.tsv"),
                           "columns": {"head": "drug", "relation": "category", "tail": "disease"}},
                "steps": [{"type": "kg.subgraphs", "strategies": [{"kind": "ego", "max_edges": 3, "count": DOCS}]},
                          {"type": "kg.rewrite", "sampling": {"max_tokens": 64}}],
            },
            "medqa": {
                "reader": {"type": "read.exam", "path": str(real_data / "exams" / "medqa_us_4opt_test.jsonl"),
                           "format": "medqa", "limit": DOCS},
                "steps": [{"type": "exam.rewrite", "sampling": {"max_tokens": 64}}],
            },
            "abstracts": {
                "reader": {"type": "read.jsonl", "path": str(real_data / "pubmed" / "bc5cdr_train.jsonl"),
                           "text_field": "abstract", "id_field": "pmid", "limit": DOCS},
                "steps": [{"type": "llm.qa_from_text", "max_pairs": 1, "max_question_chars": 100,
                           "max_answer_chars": 200, "sampling": {"max_tokens": 96}}],
            },
        },
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
    }  # fmt: skip
    manifest = run_build(recipe, tmp_path)
    assert_balanced(manifest)
    steps = {e["step"]: e for e in manifest["llm_steps"]}
    assert set(steps) == {"kg.rewrite", "exam.rewrite", "llm.qa_from_text"}
    subgraphs = manifest["sources"]["graph"]["kept"]  # ego sampling may find fewer than DOCS
    for entry in steps.values():  # every document answered, accepted or fallen back, and counted
        outcomes, expected = entry["outcomes"], subgraphs if entry["step"] == "kg.rewrite" else DOCS
        assert outcomes.get("accepted", 0) + outcomes.get("fell_back", 0) == expected, outcomes
    # qa_from_text: the constrained JSON parsed on every try (no invalid_json / schema_mismatch)
    failed = steps["llm.qa_from_text"]["outcomes"]
    assert not failed.get("failed_invalid_json") and not failed.get("failed_schema_mismatch"), failed

    exam_step = ExamRewrite(ExamRewrite.Params(type="exam.rewrite"), LLMDefaults(), cache_path=str(tmp_path / "c"))
    for row in read_rows(out):
        meta = json.loads(row["meta"])
        if "kg.rewrite" in row["transforms"]:  # the triples alone (the draft is gone): names, numbers, form
            triples = meta["triples"]
            entities = list(dict.fromkeys(x for h, _, t in triples for x in (h, t)))
            given = Given("\n".join(" ".join(t) for t in triples), (), 0)
            assert check_kg_rewrite(row["text"], entities, given).ok, row["text"]
        elif "exam.rewrite" in row["transforms"]:
            task = exam_step.prepare(Document(text="", id=row["id"], metadata={"mc": meta["mc"]}))
            assert task.check(row["text"]).ok, row["text"]
    assert Path(out / "README.md").is_file()
