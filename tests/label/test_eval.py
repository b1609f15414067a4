"""The labeler scored on PQA-L's official test split, selected by PMID, per strategy."""

import json

import pytest
from typer.testing import CliRunner

from corpusforge.cli import app
from corpusforge.errors import InputError
from corpusforge.label.evaluation import run_label_eval, select_test_items
from corpusforge.llm.backends.base import Backend
from corpusforge.llm.requests import GenerateResult, ScoreResult
from tests.label.conftest import PQAL_SAMPLE, TEST_GT_SAMPLE, make_job, read_records


class AlwaysFirstOption(Backend):
    """A backend that answers every question with the first option ("A" = yes): the all-"yes" predictor."""

    name = "transformers"  # recorded in the records; the schema lists the real backends

    def __init__(self):
        super().__init__(spec=None, model="always-a", chat=True)
        self.requests = 0

    def load(self):
        pass

    def describe(self):
        return {"backend": "always-first-option (test)"}

    def run(self, requests, on_result):
        for i, request in enumerate(requests):
            self.requests += 1
            if hasattr(request, "continuations"):
                n = len(request.continuations)  # the first option's answer forms come first: most likely
                on_result(i, ScoreResult(logprobs=[-1.0 - c for c in range(n)], token_counts=[1] * n))
            else:
                on_result(i, GenerateResult(text="A", choice_logprobs={"A": -0.1, "B": -3.0, "C": -3.0}))


@pytest.mark.realdata
def test_eval_selects_the_official_500_pmids_and_scores_all_yes_officially(real_pubmedqa, tiny_model_dir, tmp_path):
    gt_path = real_pubmedqa / "test_ground_truth.json"
    official = json.loads(gt_path.read_text())
    job = make_job(tiny_model_dir, tmp_path / "out", "ensemble", input={"path": str(real_pubmedqa / "ori_pqal.json")},
                   ensemble={"strategies": ["long-answer", "ppl"]})  # fmt: skip
    gold, selected = select_test_items(job, gt_path)
    assert selected == set(official) and len(selected) == 500 and gold == official
    backend = AlwaysFirstOption()
    run, reports = run_label_eval(job, gt_path, backend=backend)
    for name in ("long-answer", "ppl", "ensemble", "baseline: always 'yes'"):
        assert reports[name].n == 500
        assert round(reports[name].accuracy, 4) == 0.552 and round(reports[name].macro_f1, 4) == 0.2371
    assert reports["long-answer"].confusion == [[276, 0, 0, 0], [169, 0, 0, 0], [55, 0, 0, 0]]
    records = read_records(tmp_path / "out")
    assert sorted(r["pmid"] for r in records) == sorted(official)  # exactly the test items, none of the other 500
    assert all(r["gold"] == official[r["pmid"]] for r in records)  # final_decision agrees with the ground truth
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["eval"]["ensemble"]["accuracy"] == pytest.approx(0.552)
    assert "Evaluation on the PQA-L test split" in (tmp_path / "out" / "README.md").read_text()


def test_eval_from_the_cli_on_the_sample_selects_by_pmid_not_position(tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "label", "pqa-l", "--eval", "--input", str(PQAL_SAMPLE), "--ground-truth", str(TEST_GT_SAMPLE),
        "--model", str(tiny_model_dir), "--backend", "transformers", "--strategy", "long-answer",
        "--output", str(out), "--quiet",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    gold = json.loads(TEST_GT_SAMPLE.read_text())
    first_ten = list(json.loads(PQAL_SAMPLE.read_text()))[:10]
    assert set(gold) != set(first_ten)  # the sample's test PMIDs are not its first rows
    assert [r["pmid"] for r in read_records(out)] == [p for p in json.loads(PQAL_SAMPLE.read_text()) if p in gold]
    report = json.loads((out / "manifest.json").read_text())["eval"]["long-answer"]
    assert report["n"] == 10 and sum(map(sum, report["confusion"])) == 10
    assert "accuracy" in result.output and "gold \\ predicted" in result.output


def test_eval_needs_every_test_pmid_in_the_input(tiny_model_dir, tmp_path):
    job = make_job(tiny_model_dir, tmp_path / "out", input={"path": str(PQAL_SAMPLE)})
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({**json.loads(TEST_GT_SAMPLE.read_text()), "123": "yes"}))
    with pytest.raises(InputError, match="1 of the 11 test PMIDs"):
        select_test_items(job, gt)
    limited = make_job(tiny_model_dir, tmp_path / "out", input={"path": str(PQAL_SAMPLE)}, run={"limit": 3})
    gold, selected = select_test_items(limited, gt)
    assert len(selected) == 3 and set(gold) == selected
