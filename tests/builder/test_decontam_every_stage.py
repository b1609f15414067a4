"""decontam.eval_sets in a stage-1 build: a source that is an eval split is removed whole (the documents are
compared on their text and on the exam question and options they came from), the card and manifest say per source
and eval set what was checked and removed, and a check that could compare nothing is a recipe error before I/O."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builder.conftest import write_recipe

REPO = Path(__file__).resolve().parents[2]
REAL_MEDQA = REPO.parent / "shared" / "data" / "real" / "exams" / "medqa_us_4opt_test.jsonl"
SAMPLE_MEDQA = REPO / "data" / "samples" / "exam" / "medqa_sample.jsonl"
SAMPLE_CMEXAM = REPO / "data" / "samples" / "exam" / "cmexam_sample.csv"


def cli(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", "from corpusforge.cli import main; main()", *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)


def stage1_recipe(output: Path, exam: Path, eval_file: Path, before_rewrite: bool, **step) -> dict:
    check = {"type": "decontam.eval_sets", "sets": [{"name": "medqa_test", "kind": "medqa", "path": str(eval_file)}]}
    rewrite = {"type": "exam.knowledge_points"}
    return {
        "name": "stage1-decontam",
        "output": {"path": str(output)},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "sources": {
            "exam_medqa": {
                "reader": {"type": "read.exam", "path": str(exam), "format": "medqa"},
                "steps": [check | step, rewrite] if before_rewrite else [rewrite, check | step],
            },
            "exam_cmexam": {  # Chinese: no declared set of its language, counted as not checked
                "reader": {
                    "type": "read.exam",
                    "path": str(SAMPLE_CMEXAM),
                    "format": "cmexam",
                    "encoding": "utf-8-sig",
                },
                "steps": [rewrite, check | step],
            },
        },
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
    }


def build(tmp_path: Path, exam: Path, eval_file: Path, before_rewrite: bool, **step) -> dict:
    out = tmp_path / "out"
    recipe = write_recipe(tmp_path / "r.yaml", stage1_recipe(out, exam, eval_file, before_rewrite, **step))
    result = cli("build", str(recipe))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads((out / "manifest.json").read_text()) | {"card": (out / "README.md").read_text()}


@pytest.mark.slow
@pytest.mark.parametrize("before_rewrite", [True, False], ids=["before-knowledge-points", "after-knowledge-points"])
def test_a_stage1_source_that_is_the_eval_split_is_removed_whole(tmp_path, before_rewrite):
    manifest = build(tmp_path, SAMPLE_MEDQA, SAMPLE_MEDQA, before_rewrite)
    source = manifest["sources"]["exam_medqa"]
    assert source["input"] == 5 and source["kept"] == 0
    entry = manifest["contamination"]["medqa_test"]["exam_medqa"]
    assert entry["checked"] == 5 and entry["id"] + entry["ngram"] == 5
    # the Chinese source is not compared with an English set: counted, not reported as "removed 0"
    chinese = manifest["sources"]["exam_cmexam"]
    assert chinese["kept"] > 0 and manifest["contamination_not_checked"]["exam_cmexam"] == {
        "language_zh": chinese["kept"]
    }
    card = manifest["card"]
    assert "| medqa_test | exam_medqa | 5 | " in card  # documents checked, removed by id, removed by text
    assert "checked 5 documents against `medqa_test`" in card
    assert "ran on `exam_cmexam`: checked **no document** (language_zh" in card  # the Chinese source, said loudly


@pytest.mark.slow
def test_a_stage1_source_that_is_the_real_medqa_test_split_is_removed_whole(tmp_path):
    if not REAL_MEDQA.is_file():
        pytest.skip(f"real MedQA test split not found at {REAL_MEDQA}")
    # without question keys (check_ids off), the text evidence alone must find every item after the rewrite
    manifest = build(tmp_path, REAL_MEDQA, REAL_MEDQA, before_rewrite=False, check_ids=False)
    source = manifest["sources"]["exam_medqa"]
    assert source["input"] == 1273 and source["kept"] == 0
    assert manifest["contamination"]["medqa_test"]["exam_medqa"]["ngram"] == 1273


def test_a_check_that_can_compare_nothing_is_a_recipe_error_before_io(tmp_path):
    recipe = {
        "name": "nothing-to-compare",
        "output": {"path": str(tmp_path / "out")},
        "sources": {
            "kg": {
                "reader": {"type": "read.kg_triples", "path": str(tmp_path / "missing.tsv")},
                "steps": [
                    {
                        "type": "decontam.eval_sets",
                        "check_ngrams": False,
                        "sets": [{"name": "medqa_test", "kind": "medqa", "path": str(SAMPLE_MEDQA)}],
                    }
                ],
            }
        },
    }
    result = cli("build", str(write_recipe(tmp_path / "r.yaml", recipe)), "--dry-run")
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "sources.kg.steps.0: check_ngrams is false" in message and "read.kg_triples" in message
    assert "Traceback" not in message and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_training_side_span_frequency_is_counted_in_a_pass_before_the_check(tmp_path):
    """training_df: a `decontam-df/<source>` stage counts, over the source's documents, how many contain each indexed
    span; the check then reads the counts of every task (2 here) and still removes the planted copy."""
    first = json.loads(SAMPLE_MEDQA.read_text(encoding="utf-8").splitlines()[0])
    web = tmp_path / "web"
    web.mkdir()
    rows = [
        {"id": f"w{i}", "text": f"Note {i}: the patient is afebrile and has no flank pain today, visit {i}."}
        for i in range(60)
    ]
    rows.append(
        {"id": "planted", "text": "Quiz:\n" + first["question"] + "\n" + "\n".join(first["options"].values())}
    )
    for part in range(2):
        (web / f"part{part}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[part::2]), encoding="utf-8")
    check = {
        "type": "decontam.eval_sets",
        "training_df": True,
        "sets": [{"name": "medqa_test", "kind": "medqa", "path": str(SAMPLE_MEDQA)}],
    }
    recipe = {
        "name": "training-df",
        "output": {"path": str(tmp_path / "out")},
        "executor": {"type": "local", "tasks": 2, "workers": 1},
        "sources": {"web": {"reader": {"type": "read.jsonl", "path": str(web)}, "steps": [check]}},
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
    }
    result = cli("build", str(write_recipe(tmp_path / "r.yaml", recipe)))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "decontam-df/web" in result.stdout
    work = tmp_path / "out" / ".corpusforge" / "work"
    assert sorted(p.name for p in (work / "contamination_df" / "web").glob("*.npz")) == ["00000.npz", "00001.npz"]
    counts = [json.loads(p.read_text()) for p in (work / "contamination" / "web").glob("*.counts.json")]
    assert {c["training_documents"] for c in counts} == {61}  # every task read the counts of both
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["sources"]["web"]["kept"] == 60
    assert manifest["contamination"]["medqa_test"]["web"]["ngram"] == 1
