"""The real SmolLM2-135M-Instruct (transformers) on official PQA-L test items: PPL scores every answer form the
model writes, and the model's all-"yes" habit raises the degenerate warning.

Here on transformers: PPL and the answer-only strategy on 20 items each. The reasoning strategies on 20 items run
on vLLM (tests/llm/test_smollm2_vllm.py, one engine for all its real-model tests)."""

from __future__ import annotations

import math
import statistics

import pytest

from corpusforge.config import validate
from corpusforge.label.config import LabelJob
from corpusforge.label.evaluation import run_label_eval
from tests.label.conftest import assert_valid_records, read_records


def label_eval(smollm2_dir, real_pubmedqa, out, strategy, limit, max_tokens):
    job = validate(
        LabelJob,
        {
            "task": {"name": "pqa-l"},
            "input": {"path": str(real_pubmedqa / "ori_pqal.json")},
            "model": {"name": str(smollm2_dir), "backend": {"type": "transformers", "batch_size": 20}},
            **(
                {"strategy": "ensemble", "ensemble": {"strategies": strategy}}
                if isinstance(strategy, list)
                else {"strategy": strategy}
            ),
            "sampling": {"max_tokens": max_tokens},
            "run": {"output": str(out), "limit": limit, "progress": False},
        },
    )
    run, reports = run_label_eval(job, real_pubmedqa / "test_ground_truth.json")
    return run, reports, read_records(out), job


@pytest.mark.slow
@pytest.mark.realmodel
@pytest.mark.realdata
def test_ppl_scores_every_answer_form_on_20_official_items(smollm2_dir, real_pubmedqa, tmp_path):
    """PPL ranks the options by every form a chat model writes them in ("A) yes", "Yes", ...), length-normalized:
    scored by the first lowercase token alone, "maybe" trailed the model's natural "Yes" by about 11 nats and was
    never chosen; the label is the best-scored option and the probabilities are the scores' softmax."""
    run, reports, records, _ = label_eval(smollm2_dir, real_pubmedqa, tmp_path / "out", "ppl", 20, {"answer": 4})
    assert len(records) == 20 and reports["ppl"].n == 20
    assert_valid_records(records)
    gaps = []
    for record in records:
        (member,) = record["strategies"]
        scores = member["scores"]
        assert set(scores) == {"yes", "no", "maybe"} and member["label_source"] == "scored"
        assert member["label"] == max(scores, key=scores.get)
        total = sum(math.exp(v) for v in scores.values())
        for option, value in scores.items():
            assert member["option_probs"][option] == pytest.approx(math.exp(value) / total, abs=1e-6)
        gaps.append(max(scores.values()) - scores["maybe"])
    assert statistics.mean(gaps) < 5.0, gaps  # "maybe" is a real contender, not 11 nats behind
    counts = run.summary["label_distribution"]
    one_class = max(counts.values()) >= 0.95 * 20
    assert one_class == any(w.startswith("degenerate labels: ") for w in run.summary["warnings"]), counts


@pytest.mark.slow
@pytest.mark.realmodel
@pytest.mark.realdata
def test_the_real_models_yes_habit_is_a_degenerate_warning(smollm2_dir, real_pubmedqa, tmp_path):
    """SmolLM2 answers the constrained long-answer question with "A" throughout: the run must say so."""
    tokens = {"explain": 8, "verify": 8, "reason": 8, "answer": 4}
    run, _, records, _ = label_eval(smollm2_dir, real_pubmedqa, tmp_path / "out", "long-answer", 20, tokens)
    assert len(records) == 20
    counts = run.summary["label_distribution"]
    assert counts["yes"] >= 19, counts
    assert any(w.startswith("degenerate labels: ") for w in run.summary["warnings"]), run.summary["warnings"]
