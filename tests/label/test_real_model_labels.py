"""Every strategy on 20 official PQA-L test items with the real SmolLM2-135M-Instruct (transformers, short
generations): labels follow what the model stated, every contradiction is a counted disagreement, and the model's
all-"yes" habit raises the degenerate warning."""

from __future__ import annotations

import pytest

from corpusforge.config import validate
from corpusforge.label.config import LabelJob
from corpusforge.label.evaluation import run_label_eval
from corpusforge.label.stated import stated_answer
from tests.label.conftest import assert_valid_records, read_records

STRATEGIES = ["long-answer", "voc", "cot", "ppl"]


@pytest.fixture(scope="module")
def real_run(smollm2_dir, real_pubmedqa, tmp_path_factory):
    out = tmp_path_factory.mktemp("smollm2-labels") / "out"
    job = validate(
        LabelJob,
        {
            "task": {"name": "pqa-l"},
            "input": {"path": str(real_pubmedqa / "ori_pqal.json")},
            "model": {"name": str(smollm2_dir), "backend": {"type": "transformers", "batch_size": 20}},
            "strategy": "ensemble",
            "ensemble": {"strategies": STRATEGIES},
            "sampling": {"max_tokens": {"explain": 16, "verify": 40, "reason": 48, "answer": 4}},
            "run": {"output": str(out), "limit": 20, "progress": False},
        },
    )
    run, reports = run_label_eval(job, real_pubmedqa / "test_ground_truth.json")
    return run, reports, read_records(out), job


@pytest.mark.slow
@pytest.mark.realmodel
@pytest.mark.realdata
def test_labels_follow_what_the_real_model_stated(real_run):
    run, reports, records, job = real_run
    assert len(records) == 20
    assert_valid_records(records)
    disagreements = 0
    for record in records:
        for member in record["strategies"]:
            texts = [s["text"] for s in member["steps"] if s["step"] in ("reason", "verify")]
            if texts:  # cot / voc: parse the reasoning again, independently of the record's fields
                stated = stated_answer(texts[-1], job.task.options)
                text_of = {o.key: o.text for o in job.task.options}
                assert member["stated_label"] == (text_of[stated] if stated else None)
                if stated is not None:
                    assert member["label"] == text_of[stated], (record["pmid"], texts[-1][-200:])
                    if member["constrained_label"] not in (None, member["label"]):
                        assert member["disagreement"]
                else:
                    assert member["label"] == member["constrained_label"]
            disagreements += member["disagreement"]
    answers = run.summary["answers"]
    assert sum(a["disagreements"] for a in answers.values()) == disagreements
    for strategy in ("voc", "cot"):
        assert answers[strategy]["generations"] == 20 * (4 if strategy == "voc" else 1)
    # 48 tokens of reasoning is short for this model: many are cut, and the summary says so
    assert answers["cot"]["truncated"] > 0
    assert set(reports) >= {*STRATEGIES, "ensemble"}


@pytest.mark.slow
@pytest.mark.realmodel
@pytest.mark.realdata
def test_the_real_models_yes_habit_is_a_degenerate_warning(real_run):
    run = real_run[0]
    per_strategy = run.summary["per_strategy"]
    flagged = [s for s, counts in per_strategy.items() if max(counts[o] for o in ("yes", "no", "maybe")) >= 19]
    assert "long-answer" in flagged, per_strategy  # SmolLM2 answers the constrained question with "A" throughout
    for strategy in flagged:
        assert any(w.startswith(f"degenerate {strategy} labels") for w in run.summary["warnings"]), run.summary
    for strategy in per_strategy:
        if strategy not in flagged:
            assert not any(w.startswith(f"degenerate {strategy} labels") for w in run.summary["warnings"])
