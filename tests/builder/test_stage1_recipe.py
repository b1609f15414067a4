"""Golden test: recipes/stage1.yaml on the bundled samples gives exactly the expected dataset and counts.

The expected output lives in tests/golden/stage1.json (per-source counts, and every document's id with a hash of
its text). After an intended change, regenerate it with CORPUSFORGE_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest

GOLDEN = "tests/golden/stage1.json"


def snapshot(output_dir) -> dict:
    from datasets import load_dataset

    manifest = json.loads((output_dir / "manifest.json").read_text())
    ds = load_dataset(str(output_dir), split="train")
    documents = sorted(
        f"{row['id']} {hashlib.sha1(row['text'].encode()).hexdigest()[:12]}"
        for row in ds.select_columns(["id", "text"])
    )
    sources = {
        name: {k: s[k] for k in ("input", "kept", "dropped", "quarantined", "balanced")}
        for name, s in manifest["sources"].items()
    }
    return {"sources": sources, "documents": documents}


@pytest.mark.slow
def test_stage1_matches_golden(stage1_output, repo_root):
    out, _ = stage1_output
    got = snapshot(out)
    golden = repo_root / GOLDEN
    if os.environ.get("CORPUSFORGE_UPDATE_GOLDEN"):
        golden.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    expected = json.loads(golden.read_text())
    assert got["sources"] == expected["sources"]
    assert got["documents"] == expected["documents"]


@pytest.mark.slow
def test_stage1_output_is_valid_and_reported(stage1_output):
    from datasets import load_dataset

    from corpusforge.output.schemas import validation_errors

    out, stdout = stage1_output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert set(manifest["sources"]) == {"books", "kg", "qa", "exam_medqa", "exam_cmexam", "pubmed", "promptcblue"}
    for row in load_dataset(str(out), split="train"):
        assert validation_errors("document", row) == []
    # the paper's decontamination: the PQA-L PMID and the pasted PQA-L context are both caught and reported
    assert manifest["decontamination"] == {"pqal_ngram": 1, "pqal_pmid": 1}
    assert "every source balances" in stdout
    kg = manifest["sources"]["kg"]["details"]["kg.subgraphs"]
    assert kg["triples_covered"] <= kg["triples_in"]
