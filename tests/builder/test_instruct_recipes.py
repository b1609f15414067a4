"""recipes/stage2.yaml and stage3.yaml: golden tests on the bundled samples, the official PubMedQA split on the
real data, and the labeler's PQA-U output flowing into stage 3."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = {"stage2": "tests/golden/stage2.json", "stage3": "tests/golden/stage3.json"}
LETTER = {"yes": "A", "no": "B", "maybe": "C"}


def cli(repo_root: Path, *args: str, timeout: int = 600) -> str:
    cmd = [sys.executable, "-c", "from corpusforge.cli import main; main()", *args]
    result = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def load_splits(output: Path) -> dict:
    from datasets import load_dataset

    return dict(load_dataset(str(output)))


def snapshot(output: Path) -> dict:
    manifest = json.loads((output / "manifest.json").read_text())
    splits = {}
    for name, ds in sorted(load_splits(output).items()):
        rows = []
        for row in ds:
            digest = hashlib.sha1(json.dumps(row["messages"], ensure_ascii=False).encode()).hexdigest()[:12]
            rows.append(f"{row['id']} task={row['task']}:{row['task_id']} {digest}")
        splits[name] = sorted(rows)
    sources = {
        name: {k: s[k] for k in ("input", "kept", "dropped", "quarantined", "balanced", "rows")}
        for name, s in manifest["sources"].items()
    }
    return {"sources": sources, "splits": splits, "contamination": manifest["contamination"]}


@pytest.fixture(scope="module")
def built(instruct_outputs):
    return instruct_outputs


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["stage2", "stage3"])
def test_recipe_matches_golden(built, repo_root, stage):
    got = snapshot(built[stage])
    golden = repo_root / GOLDEN[stage]
    if os.environ.get("CORPUSFORGE_UPDATE_GOLDEN"):
        golden.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(golden.read_text())


@pytest.mark.slow
def test_instruction_records_are_valid_and_decontaminated(built):
    from corpusforge.output.schemas import validation_errors

    for stage, out in built.items():
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["status"] == "ok" and manifest["kind"] == "instruct"
        for split, ds in load_splits(out).items():
            for row in ds:
                assert validation_errors("instruction", row) == [], (stage, split, row["id"])
        # the MedQA test question pasted into the sample training file is caught by id, and so is MedMCQA's
        assert manifest["decontamination"]["eval_id_medqa_test"] == 1
        assert manifest["decontamination"]["eval_id_medmcqa_dev"] == 1


@pytest.mark.slow
def test_stage3_keeps_the_official_test_split_apart(built, repo_root):
    from corpusforge.formats.pubmedqa import load_test_ground_truth

    gold = load_test_ground_truth(repo_root / "data/samples/pubmedqa/test_ground_truth_sample.json")
    splits = load_splits(built["stage3"])
    test = {row["provenance"]["pmid"]: row["mc"]["answer"] for row in splits["test"]}
    assert test == {pmid: LETTER[label] for pmid, label in gold.items()}
    train_pmids = {row["provenance"]["pmid"] for row in splits["train"] if row["source"] == "pqa_l"}
    assert train_pmids and not train_pmids & set(gold)
    assert {row["task_id"] for row in splits["train"]} == {0, 1, 2}  # pubmedqa, medmcqa, medqa


@pytest.mark.slow
@pytest.mark.realdata
def test_stage3_on_the_real_pubmedqa_split(tmp_path, repo_root, real_pubmedqa):
    from corpusforge.formats.pubmedqa import load_items, load_test_ground_truth

    pqal, truth = real_pubmedqa / "ori_pqal.json", real_pubmedqa / "test_ground_truth.json"
    out = tmp_path / "stage3-real"
    cli(
        repo_root, "build", "recipes/stage3.yaml", "--output", str(out), "--set", "executor.workers=1",
        "--set", f"sources.pqa_l.reader.path={pqal}", "--set", f"sources.pqa_l.reader.test_ground_truth={truth}",
        "--set", f"filters.0.sets.0.path={pqal}", "--set", f"filters.0.sets.0.test_ground_truth={truth}",
    )  # fmt: skip
    gold = load_test_ground_truth(truth)
    splits = load_splits(out)
    test = {row["provenance"]["pmid"]: row["mc"]["answer"] for row in splits["test"]}
    assert len(test) == 500 and test == {pmid: LETTER[label] for pmid, label in gold.items()}
    pqa_l = {split: {r["provenance"]["pmid"] for r in ds if r["source"] == "pqa_l"} for split, ds in splits.items()}
    assert len(pqa_l["train"]) == 450 and len(pqa_l["validation"]) == 50
    assert not (pqa_l["train"] | pqa_l["validation"]) & set(gold)
    # the 10 official folds of 50 partition the other 500 (each record carries its fold); validation is fold 0
    folds: dict[int, set[str]] = {}
    for split in ("train", "validation"):
        for row in splits[split]:
            if row["source"] == "pqa_l":
                folds.setdefault(json.loads(row["meta"])["fold"], set()).add(row["provenance"]["pmid"])
    assert sorted(folds) == list(range(10)) and all(len(f) == 50 for f in folds.values())
    assert set().union(*folds.values()) == {item.pmid for item in load_items(pqal)} - set(gold)
    assert folds[0] == pqa_l["validation"]


@pytest.mark.slow
def test_labeled_pqa_u_flows_into_stage3(tmp_path, repo_root, tiny_model_dir):
    labels = tmp_path / "labels"
    cli(
        repo_root, "label", "pqa-u", "--input", "data/samples/pubmedqa/ori_pqau_sample.json",
        "--model", str(tiny_model_dir), "--backend", "transformers", "--strategy", "long-answer",
        "--output", str(labels), "--limit", "8", "--quiet",
    )  # fmt: skip
    out = tmp_path / "stage3"
    cli(
        repo_root, "build", "recipes/stage3.yaml", "--output", str(out), "--set", "executor.workers=1",
        "--set", "sources.pqa_u.enabled=true", "--set", f"sources.pqa_u.reader.path={labels}",
        "--set", "sources.pqa_u.steps.0.min_confidence=0", "--set", "sources.pqa_u.steps.0.min_agreement=0",
    )  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    label_manifest = json.loads((labels / "manifest.json").read_text())
    pqa_u = manifest["sources"]["pqa_u"]
    assert pqa_u["balanced"] and pqa_u["input"] == 8
    labeled = label_manifest["counts"]["labeled"] if "counts" in label_manifest else None
    rows = [r for r in load_splits(out)["train"] if r["source"] == "pqa_u"]
    assert len(rows) == pqa_u["kept"] > 0
    assert labeled is None or pqa_u["kept"] <= labeled
    assert {r["task_id"] for r in rows} == {0} and all(r["mc"]["answer"] in "ABC" for r in rows)
