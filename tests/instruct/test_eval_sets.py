"""Decontamination against evaluation sets: by id (PMID, source id, normalized question) and by n-gram overlap."""

from __future__ import annotations

import json

import pytest
from datatrove.data import Document

from corpusforge.errors import InputError
from corpusforge.instruct.eval_sets import ContaminationReport, EvalSetFilter, EvalSetSpec, load_eval_set
from tests.instruct.helpers import REPO, SAMPLES, read

SAMPLE_PQAL = REPO / "data/samples/pubmedqa/ori_pqal_sample.json"
SAMPLE_TRUTH = REPO / "data/samples/pubmedqa/test_ground_truth_sample.json"
EVAL_SETS = [
    {"name": "pubmedqa_test", "kind": "pubmedqa", "path": str(SAMPLE_PQAL), "test_ground_truth": str(SAMPLE_TRUTH)},
    {"name": "medqa_test", "kind": "medqa", "path": str(SAMPLES / "medqa/test.jsonl")},
    {"name": "medmcqa_dev", "kind": "medmcqa", "path": str(SAMPLES / "medmcqa/dev.json")},
    {"name": "mmlu_test", "kind": "mmlu", "path": str(SAMPLES / "mmlu/hub"), "subjects": ["clinical_knowledge"]},
]


def run_filter(docs: list[Document], tmp_path, **params) -> tuple[list[Document], dict, ContaminationReport]:
    step = EvalSetFilter(sets=EVAL_SETS, report_dir=tmp_path / "contamination" / "all", **params)
    kept = list(step.run(iter(docs)))
    stats = {k: v.total for k, v in step.stats.stats.items()}
    return kept, stats, ContaminationReport.from_folder(tmp_path / "contamination")


def test_loaders_select_the_official_pubmedqa_test_pmids():
    items = load_eval_set(EvalSetSpec.model_validate(EVAL_SETS[0]))
    truth = json.loads(SAMPLE_TRUTH.read_text())
    assert {i.ref for i in items} == {f"pmid:{p}" for p in truth}
    assert all(i.text for i in items)  # question + abstract, for the n-gram check
    with pytest.raises(InputError, match="test_ground_truth"):
        load_eval_set(EvalSetSpec(name="p", kind="pubmedqa", path=str(SAMPLE_PQAL)))
    with pytest.raises(InputError, match="not found"):
        load_eval_set(EvalSetSpec(name="m", kind="medqa", path=str(SAMPLES / "nope.jsonl")))


def test_drops_by_id_and_keeps_clean_records(tmp_path):
    docs = read("instruct.medmcqa", tmp_path / "a", path=str(SAMPLES / "medmcqa/train.json"), source="medmcqa").docs
    docs += read("instruct.medqa", tmp_path / "b", path=str(SAMPLES / "medqa/train.jsonl"), source="medqa").docs
    docs += read("instruct.pubmedqa", tmp_path / "c", path=str(SAMPLE_PQAL), source="pqal").docs
    kept, stats, report = run_filter(docs, tmp_path)
    assert stats["dropped_eval_id_medmcqa_dev"] == 1  # the same MedMCQA id as a dev question
    assert stats["dropped_eval_id_medqa_test"] == 1  # the same question as a MedQA test item (MedQA has no ids)
    assert stats["dropped_eval_id_pubmedqa_test"] == 10  # the 10 official test PMIDs
    assert len(kept) == len(docs) - 12 and stats["dropped"] == 12
    table = report.to_dict()
    assert table["medqa_test"]["medqa"] == {
        "checked": 2,
        "id": 1,
        "ngram": 0,
        "examples": ["medqa:train.jsonl#2"],
        "ngram_matches": [],
    }
    assert len(table["pubmedqa_test"]["pqal"]["examples"]) == 5  # a few example ids per set and source
    assert "| pubmedqa_test | pqal | 20 | 10 | 0 |" in report.to_markdown()  # checked, by id, by text


def test_ngram_overlap_catches_a_pasted_abstract_under_a_new_id(tmp_path):
    truth = json.loads(SAMPLE_TRUTH.read_text())
    test_pmid = next(iter(truth))
    context = " ".join(json.loads(SAMPLE_PQAL.read_text())[test_pmid]["CONTEXTS"])
    pasted = {"pubid": 99999999, "question": "An unrelated question about hospital stays?",
              "context": {"contexts": ["Background sentence.", context], "labels": ["A", "B"], "meshes": []},
              "long_answer": "", "final_decision": "yes"}  # fmt: skip
    clean = {**pasted, "pubid": 99999998, "context": {"contexts": ["Nothing from any test abstract here at all."]}}
    path = tmp_path / "copy.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (pasted, clean)) + "\n")
    docs = read("instruct.pubmedqa", tmp_path / "r", path=str(path), source="mirror").docs
    kept, stats, report = run_filter(docs, tmp_path)
    assert [d.id for d in kept] == ["mirror:99999998"]
    assert stats["dropped_eval_ngram_pubmedqa_test"] == 1
    hit = json.loads(next((tmp_path / "contamination").rglob("*.jsonl")).read_text().splitlines()[0])
    assert hit["ref"] == f"pmid:{test_pmid}" and hit["check"] == "ngram" and hit["ngrams"] > 0

    ids_only, stats, _ = run_filter(docs, tmp_path / "x", check_ngrams=False)
    assert len(ids_only) == 2 and stats.get("dropped", 0) == 0


def test_the_official_test_split_of_a_stage3_build_is_left_alone(tmp_path):
    docs = read("instruct.pubmedqa", tmp_path / "r", path=str(SAMPLE_PQAL), test_ground_truth=str(SAMPLE_TRUTH),
                folds=5).docs  # fmt: skip
    kept, stats, _ = run_filter(docs, tmp_path)
    assert len(kept) == 20 and stats.get("dropped", 0) == 0
    assert sum(d.metadata["split"] == "test" for d in kept) == 10
