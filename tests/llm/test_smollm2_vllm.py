"""SmolLM2-135M-Instruct on vLLM's CPU engine, as a user runs it: one engine (started once, ~70 s) serves the
JSON requests, a PQA-L label run of every generative strategy on 20 official test items, and every LLM step on
20 real documents. Kept in one module so the engine is shut down when it ends.

What is asserted is what a real model exposed: labels follow the answer the reasoning states (a contradicting
constrained answer is kept and counted as a disagreement, never recorded as the label), JSON validates under the
bounded schemas, and every accepted rewrite passes its step's checks when they are run again."""

from __future__ import annotations

import os

import pytest

from corpusforge.config import validate
from corpusforge.label.config import LabelJob
from corpusforge.label.evaluation import run_label_eval
from corpusforge.label.stated import stated_answer
from corpusforge.llm.backends.vllm import VLLMBackend
from corpusforge.llm.config import VLLMBackendSpec
from tests.label.conftest import assert_valid_records, read_records
from tests.llm.conftest import assert_balanced, run_build
from tests.llm.smollm2_helpers import (
    REAL,
    assert_accepted_rewrites_pass_their_checks,
    assert_every_document_answered,
    assert_json_answers_validate,
    steps_recipe,
)

pytestmark = [pytest.mark.realmodel, pytest.mark.slow]

ITEMS = 20
DOCS = 20
BACKEND = {"type": "vllm", "dtype": "bfloat16", "max_model_len": 4096, "enforce_eager": True}
SPEC = VLLMBackendSpec(**{k: v for k, v in BACKEND.items() if k != "type"})


@pytest.fixture(scope="module")
def engine(smollm2_dir):
    """The engine `model.backend: {type: vllm}` starts (same arguments), shared by this module's tests."""
    pytest.importorskip("vllm")
    from vllm import LLM

    from corpusforge.llm.engine import preload, unload

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    llm = LLM(**VLLMBackend(SPEC, str(smollm2_dir), chat=True).engine_kwargs())
    preload(str(smollm2_dir), llm)  # the build's LLM steps take this engine instead of starting their own
    yield llm
    unload(str(smollm2_dir))
    llm.llm_engine.engine_core.shutdown()


def backend_on(engine, smollm2_dir) -> VLLMBackend:
    backend = VLLMBackend(SPEC, str(smollm2_dir), chat=True, llm=engine)
    backend.load()
    return backend


def test_json_answers_validate_on_vllm(engine, smollm2_dir):
    assert_json_answers_validate(backend_on(engine, smollm2_dir))


@pytest.fixture(scope="module")
def label_run(engine, smollm2_dir, real_pubmedqa, tmp_path_factory):
    out = tmp_path_factory.mktemp("smollm2-vllm-labels") / "out"
    job = validate(
        LabelJob,
        {
            "task": {"name": "pqa-l"},
            "input": {"path": str(real_pubmedqa / "ori_pqal.json")},
            "model": {"name": str(smollm2_dir), "backend": BACKEND},
            "strategy": "ensemble",
            "ensemble": {"strategies": ["long-answer", "voc", "cot"]},
            "sampling": {"max_tokens": {"explain": 48, "verify": 96, "reason": 128, "answer": 4}},
            "run": {"output": str(out), "limit": ITEMS, "progress": False},
        },
    )
    run, reports = run_label_eval(
        job, real_pubmedqa / "test_ground_truth.json", backend=backend_on(engine, smollm2_dir)
    )
    return run, reports, read_records(out), job


@pytest.mark.realdata
def test_every_generative_strategy_on_20_official_items_follows_what_the_model_stated(label_run):
    run, reports, records, job = label_run
    assert len(records) == ITEMS
    assert_valid_records(records)
    text_of = {o.key: o.text for o in job.task.options}
    disagreements = stated = 0
    for record in records:
        for member in record["strategies"]:
            texts = [s["text"] for s in member["steps"] if s["step"] in ("reason", "verify")]
            if texts:  # cot / voc: parse the reasoning again, independently of the record's fields
                answer = stated_answer(texts[-1], job.task.options)
                assert member["stated_label"] == (text_of[answer] if answer else None)
                if answer is not None:
                    stated += 1
                    assert member["label"] == text_of[answer], (record["pmid"], texts[-1][-200:])
                    if member["constrained_label"] not in (None, member["label"]):
                        assert member["disagreement"]
                else:
                    assert member["label"] == member["constrained_label"]
            disagreements += member["disagreement"]
    assert stated > 0  # the model states an answer in some of its reasoning: the check above saw real cases
    answers = run.summary["answers"]
    assert sum(a["disagreements"] for a in answers.values()) == disagreements
    assert answers["cot"]["generations"] == ITEMS and answers["voc"]["generations"] == 4 * ITEMS
    for strategy in ("long-answer", "voc", "cot", "ensemble"):
        assert reports[strategy].n == ITEMS and sum(map(sum, reports[strategy].confusion)) == ITEMS
    # the answer-only strategy is SmolLM2's "yes" habit: the run must say so, not report a healthy labeller
    long_answer = [m["label"] for r in records for m in r["strategies"] if m["strategy"] == "long-answer"]
    assert long_answer.count("yes") >= 0.95 * ITEMS, long_answer


@pytest.mark.realdata
def test_each_llm_step_on_20_real_documents_accepts_only_checked_answers(engine, smollm2_dir, tmp_path):
    if not (REAL / "exams" / "medqa_us_4opt_test.jsonl").is_file():
        pytest.skip(f"real data not found at {REAL}")
    out = tmp_path / "out"
    llm = {
        "model": {"name": str(smollm2_dir), "backend": BACKEND},
        "sampling": {"temperature": 0.0, "top_p": 1.0, "seed": 0},
        "max_retries": 1,
    }
    manifest = run_build(steps_recipe(out, llm, DOCS), tmp_path)
    assert_balanced(manifest)
    steps = assert_every_document_answered(manifest, DOCS)
    assert all(entry["backend"] == "vllm" for entry in steps.values())
    assert assert_accepted_rewrites_pass_their_checks(out, tmp_path / "c") == sum(
        steps[s]["outcomes"].get("accepted", 0) for s in ("kg.rewrite", "exam.rewrite")
    )
