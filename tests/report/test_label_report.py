"""The label report: `corpusforge label` writes it; labels, confidence, agreement, strategies and evaluation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.report.helpers import assert_self_contained, rendered_charts, visible_records

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples" / "pubmedqa"


@pytest.fixture(scope="module")
def label_eval_output(tiny_model_dir, tmp_path_factory, repo_root) -> tuple[Path, str]:
    """PQA-L's sample labelled with the tiny model by every strategy (ensemble) and scored (--eval)."""
    out = tmp_path_factory.mktemp("label") / "pqa-l-eval"
    cmd = [sys.executable, "-c", "from corpusforge.cli import main; main()", "label", "pqa-l", "--eval",
           "--input", str(SAMPLES / "ori_pqal_sample.json"),
           "--ground-truth", str(SAMPLES / "test_ground_truth_sample.json"),
           "--model", str(tiny_model_dir), "--backend", "transformers", "--strategy", "ensemble", "--output", str(out),
           "--quiet", "--set", "sampling.max_tokens.explain=4", "--set", "sampling.max_tokens.verify=4"]  # fmt: skip
    result = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, result.stdout


@pytest.mark.slow
def test_label_writes_its_report_with_labels_agreement_and_evaluation(label_eval_output, report_browser, tmp_path):
    out, stdout = label_eval_output
    assert f"report: {out / 'report.html'}" in "".join(stdout.split("\n"))
    text = assert_self_contained(out / "report.html")
    assert "baseline: always" in text and "macro-F1" in text
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "](images/label_distribution.png)" in card and (out / "images" / "confidence.png").is_file()

    page, errors = report_browser.open(out / "report.html")
    charts = rendered_charts(page)
    expected = {"label-distribution", "confidence", "agreement", "agreement-matrix"}
    expected |= {f"confusion-{s}" for s in ("long-answer", "voc", "ppl", "ensemble")}
    assert expected <= charts, charts
    # the agreement matrix's diagonal: a strategy always agrees with itself
    assert page.locator("figure[data-chart=agreement-matrix] text", has_text="1.00").count() >= 3
    page.select_option("#f-kind", "kept")
    shown = visible_records(page)
    assert shown and all("confidence:" in r["text"] and "voc:" in r["text"] for r in shown)
    page.screenshot(path=str(tmp_path / "label.png"), full_page=True)
    assert errors == []


def test_qa_statistics_of_pubmedqa_like_table_5(tiny_model_dir, tmp_path):
    from corpusforge.report import write_report
    from corpusforge.report.qa_stats import make_tokenizer, pubmedqa_items, qa_stats

    items, malformed = pubmedqa_items(SAMPLES / "ori_pqal_sample.json")
    assert malformed == 0 and items
    words = qa_stats("PQA-L", items, make_tokenizer(None))
    assert words.pairs == len(items) and abs(sum(words.answers.values()) - 100) < 1e-9
    # by hand: the regex word/punctuation count of the first question
    first = items[0].question
    import re

    assert make_tokenizer(None).count(first) == len(re.findall(r"\w+|[^\w\s]", first))
    tokens = qa_stats("PQA-L", items, make_tokenizer(str(tiny_model_dir / "tokenizer.json")))
    assert tokens.context > words.context  # a 512-token BPE splits more finely than words
    html = write_report(SAMPLES / "ori_pqal_sample.json", tmp_path / "qa.html", tokenizer=str(tiny_model_dir))
    text = assert_self_contained(html)
    for row in ("Avg. question length", "Avg. context length", "Avg. long answer length", "PQA-L (paper)"):
        assert row in text
    assert f"tokens of {tiny_model_dir}" in text


@pytest.mark.realdata
def test_table_5_from_the_real_pqa_l(real_pubmedqa):
    from corpusforge.report.qa_stats import make_tokenizer, pubmedqa_items, qa_stats

    items, malformed = pubmedqa_items(real_pubmedqa / "ori_pqal.json")
    stats = qa_stats("PQA-L", items, make_tokenizer(None))
    # the paper's proportions exactly; lengths depend on the tokenizer (the paper's: 14.4 / 238.9 / 43.2)
    assert (stats.pairs, malformed) == (1000, 0)
    assert {k: round(v, 1) for k, v in stats.answers.items()} == {"yes": 55.2, "no": 33.8, "maybe": 11.0}
    assert 13 < stats.question < 17 and 220 < stats.context < 280 and 40 < stats.answer < 48
