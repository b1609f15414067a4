"""The report's evaluation-set contamination section, in headless Chromium: per eval set the documents checked and
removed per source, and every removal with the matched span beside the evaluation item."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builder.conftest import write_recipe
from tests.report.helpers import assert_self_contained

REPO = Path(__file__).resolve().parents[2]
SAMPLE_MEDQA = REPO / "data" / "samples" / "exam" / "medqa_sample.jsonl"
WRAP = "You are a medical expert. Answer this and give the letter.\n\nQuestion: {q}\nOptions:\n{o}\nAnswer:"


@pytest.fixture(scope="module")
def contaminated_build(tmp_path_factory) -> Path:
    """A stage-1 build: the MedQA sample itself (removed whole) and web text holding one wrapped, reordered copy."""
    tmp = tmp_path_factory.mktemp("contaminated")
    first = json.loads(SAMPLE_MEDQA.read_text(encoding="utf-8").splitlines()[0])
    options = "\n".join(f"({k.lower()}) {t}" for k, t in reversed(list(first["options"].items())))
    web = tmp / "web.jsonl"
    rows = [
        {"id": "planted", "text": WRAP.format(q=first["question"], o=options)},
        {"id": "clean", "text": "Nitrofurantoin is a urinary antiseptic used for uncomplicated cystitis in adults."},
    ]
    web.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    check = {
        "type": "decontam.eval_sets",
        "sets": [{"name": "medqa_test", "kind": "medqa", "path": str(SAMPLE_MEDQA)}],
    }
    recipe = {
        "name": "contaminated",
        "output": {"path": str(tmp / "out")},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "sources": {
            "exam_medqa": {"reader": {"type": "read.exam", "path": str(SAMPLE_MEDQA), "format": "medqa"}},
            "web": {"reader": {"type": "read.jsonl", "path": str(web)}},
        },
        "filters": [check],
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
    }
    cmd = [
        sys.executable,
        "-c",
        "from corpusforge.cli import main; main()",
        "build",
        str(write_recipe(tmp / "r.yaml", recipe)),
    ]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return tmp / "out"


def test_contamination_section_lists_removals_with_span_beside_item(contaminated_build):
    html = assert_self_contained(contaminated_build / "report.html")
    assert 'data-table="contamination-counts-medqa_test"' in html
    assert 'data-table="contamination-removals-medqa_test"' in html
    manifest = json.loads((contaminated_build / "manifest.json").read_text())
    assert manifest["contamination"]["medqa_test"]["web"] == {
        **manifest["contamination"]["medqa_test"]["web"], "checked": 2, "id": 0, "ngram": 1
    }  # fmt: skip


@pytest.mark.slow
def test_contamination_section_in_chromium(contaminated_build, report_browser, tmp_path):
    page, errors = report_browser.open(contaminated_build / "report.html")
    assert page.is_visible('h3[data-eval-set="medqa_test"]')
    counts = page.eval_on_selector_all(
        '[data-table="contamination-counts-medqa_test"] tbody tr', "rows => rows.map(r => r.innerText.split('\\t'))"
    )
    by_source = {row[0]: row[1:] for row in counts}
    assert by_source["exam_medqa"] == ["5", "5", "0"] and by_source["web"] == ["2", "0", "1"]
    removals = page.eval_on_selector_all(
        '[data-table="contamination-removals-medqa_test"] tbody tr',
        "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText))",
    )
    assert len(removals) == 6
    planted = next(r for r in removals if r[1] == "web")
    record, source, check, evidence, span, item = planted
    assert check == "text" and evidence == "coverage 1.0"  # a long item: the n-gram coverage rule
    assert "22 weeks gestation presents with burning on urination" in span  # the matched text, normalized...
    assert (
        item.startswith("A 23-year-old woman at 22 weeks' gestation") and "C. Nitrofurantoin" in item
    )  # ...beside the item
    box = page.eval_on_selector(
        '[data-table="contamination-removals-medqa_test"] .contamination-item', "e => e.getBoundingClientRect().width"
    )
    assert box > 100  # laid out, readable
    page.screenshot(path=str(tmp_path / "contamination.png"), full_page=True)
    assert errors == []
