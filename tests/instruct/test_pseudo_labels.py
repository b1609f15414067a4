"""Pseudo-labelled PQA-U (label records from `corpusforge label` joined with the PQA-U items) and the label filter."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document

from corpusforge.instruct.steps import LabelQualityFilter
from tests.instruct.helpers import REPO, read

PQAU = REPO / "data/samples/pubmedqa/ori_pqau_sample.json"


def label_dataset(tmp_path, rows: list[dict]):
    """A label output directory as `corpusforge label` writes it: card, manifest and data/ parquet shards."""
    out = tmp_path / "labels"
    (out / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), out / "data" / "train-00000.parquet")
    (out / "README.md").write_text("---\nconfigs: []\n---\n# labels\n")
    (out / "manifest.json").write_text("{}")
    return out


def test_labels_join_items_and_keep_confidence(tmp_path):
    pmids = list(json.loads(PQAU.read_text()))
    rows = [
        {"pmid": pmids[0], "label": "yes", "confidence": 0.93, "agreement": 1.0, "strategy": "voc"},
        {"pmid": pmids[1], "label": "maybe", "confidence": 0.41, "agreement": 0.67, "strategy": "voc"},
        {"pmid": pmids[2], "label": None, "confidence": None, "agreement": None, "strategy": "voc"},
        {"pmid": "12345", "label": "no", "confidence": 0.8, "agreement": 1.0, "strategy": "voc"},
        {"pmid": pmids[3], "label": "perhaps", "confidence": 0.8, "agreement": 1.0, "strategy": "voc"},
    ]
    r = read("instruct.pubmedqa_labels", tmp_path, path=str(label_dataset(tmp_path, rows)), items_path=str(PQAU),
             source="pqa_u")  # fmt: skip
    assert r.balanced() and r.stats["records"] == 5  # README.md and manifest.json are not read as records
    assert r.stats["dropped_unlabeled"] == 1
    assert sorted(q["reason"] for q in r.quarantine) == ["bad_field", "unknown_pmid"]
    first = r.records[0]
    assert first["task"] == "pubmedqa" and first["task_id"] == 0 and first["mc"]["answer"] == "A"
    assert first["mc"]["context"] and first["provenance"]["pmid"] == pmids[0]
    meta = json.loads(first["meta"])
    assert (meta["label"], meta["confidence"], meta["agreement"], meta["strategy"]) == ("yes", 0.93, 1.0, "voc")

    step = LabelQualityFilter(min_confidence=0.5, min_agreement=0.9)
    kept = list(step.run(iter(r.docs)))
    assert [d.id for d in kept] == [first["id"]]
    assert step.stats["dropped_low_confidence"].total == 1


def test_label_filter_passes_records_without_pseudo_labels(tmp_path):
    docs = read("instruct.pubmedqa", tmp_path, path=str(REPO / "data/samples/pubmedqa/ori_pqal_sample.json")).docs
    assert len(list(LabelQualityFilter(min_confidence=0.99).run(iter(docs)))) == len(docs)


def test_min_agreement_compares_votes_not_rounded_floats():
    from corpusforge.instruct.steps import votes_reach

    # 2 of 3 strategies agree: stored as 0.666..., or rounded by a writer to 0.6667 -- the default 0.67 keeps it
    assert votes_reach(2 / 3, 0.67) and votes_reach(0.6667, 0.67) and votes_reach(2 / 3, 0.667)
    assert not votes_reach(0.5, 0.67) and not votes_reach(2 / 3, 0.7) and not votes_reach(2 / 3, 1.0)
    assert votes_reach(1.0, 1.0) and votes_reach(0.75, 0.75) and votes_reach(0.5, 0.5)
    step = LabelQualityFilter(min_agreement=0.67)
    record = {"meta": json.dumps({"label": "yes", "agreement": 0.6667})}
    assert step.filter(Document(text="q", id="a", metadata={"record": record})) is True
