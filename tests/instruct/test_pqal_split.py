"""The official PQA-L split: 500 test PMIDs from test_ground_truth.json, 10 folds of 450/50 over the other 500."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from corpusforge.instruct.pqal_split import pqal_split
from tests.instruct.helpers import REPO, read

SAMPLE_PQAL = REPO / "data/samples/pubmedqa/ori_pqal_sample.json"
SAMPLE_TRUTH = REPO / "data/samples/pubmedqa/test_ground_truth_sample.json"


def labels_of(path) -> dict[str, str]:
    return {pmid: item["final_decision"] for pmid, item in json.loads(path.read_text()).items()}


def check_partition(split, labels: dict[str, str], truth: dict[str, str]) -> None:
    rest = set(labels) - set(truth)
    pmids = [p for fold in split.folds for p in fold]
    assert len(pmids) == len(set(pmids)) and set(pmids) == rest  # the folds partition the non-test PMIDs
    assert not set(pmids) & set(truth)
    for k in range(len(split.folds)):
        assert set(split.train_pmids(k)) | set(split.folds[k]) == rest


@pytest.mark.realdata
def test_official_split_on_the_real_data(real_pubmedqa):
    labels = labels_of(real_pubmedqa / "ori_pqal.json")
    truth = json.loads((real_pubmedqa / "test_ground_truth.json").read_text())
    split = pqal_split(labels, truth)
    assert split.method == "official"  # the official script's random stream reproduces the official test set
    assert split.test == truth and len(truth) == 500
    check_partition(split, labels, truth)
    assert [len(f) for f in split.folds] == [50] * 10
    assert all(len(split.train_pmids(k)) == 450 for k in range(10))
    # stratified like the official script: every fold holds about the label mix of the CV half
    for fold in split.folds:
        counts = Counter(labels[p] for p in fold)
        assert 24 <= counts["yes"] <= 29 and 13 <= counts["no"] <= 19 and 2 <= counts["maybe"] <= 8


@pytest.mark.realdata
def test_stage3_reader_puts_exactly_the_official_test_set_in_test(real_pubmedqa, tmp_path):
    truth = json.loads((real_pubmedqa / "test_ground_truth.json").read_text())
    r = read("instruct.pubmedqa", tmp_path, path=str(real_pubmedqa / "ori_pqal.json"),
             test_ground_truth=str(real_pubmedqa / "test_ground_truth.json"), dev_fold=3)  # fmt: skip
    assert r.balanced() and len(r.docs) == 1000
    by_split: dict[str, list] = {}
    for doc in r.docs:
        by_split.setdefault(doc.metadata["split"], []).append(doc.metadata["record"])
    test = {rec["provenance"]["pmid"]: rec for rec in by_split["test"]}
    assert set(test) == set(truth)
    keys = {"yes": "A", "no": "B", "maybe": "C"}
    assert all(test[p]["mc"]["answer"] == keys[label] for p, label in truth.items())  # the official labels
    train = [rec["provenance"]["pmid"] for rec in by_split["train"]]
    validation = [rec["provenance"]["pmid"] for rec in by_split["validation"]]
    assert len(train) == 450 and len(validation) == 50 and not (set(train) | set(validation)) & set(truth)
    folds = Counter(json.loads(rec["meta"])["fold"] for rec in by_split["train"] + by_split["validation"])
    assert folds == dict.fromkeys(range(10), 50)
    assert {json.loads(rec["meta"])["fold"] for rec in by_split["validation"]} == {3}

    dropped = read("instruct.pubmedqa", tmp_path / "drop", path=str(real_pubmedqa / "ori_pqal.json"),
                   test_ground_truth=str(real_pubmedqa / "test_ground_truth.json"), test="drop")  # fmt: skip
    assert dropped.stats["dropped_official_test"] == 500 and len(dropped.docs) == 500


def test_fallback_split_on_the_sample_is_deterministic_and_a_partition(tmp_path):
    labels, truth = labels_of(SAMPLE_PQAL), json.loads(SAMPLE_TRUTH.read_text())
    split = pqal_split(labels, truth, n_folds=5)
    assert split.method == "stratified" and split.test == truth
    check_partition(split, labels, truth)
    reordered = dict(reversed(list(labels.items())))
    assert pqal_split(reordered, truth, n_folds=5).folds == split.folds  # independent of file order

    r = read("instruct.pubmedqa", tmp_path, path=str(SAMPLE_PQAL), test_ground_truth=str(SAMPLE_TRUTH), folds=5)
    splits = Counter(doc.metadata["split"] for doc in r.docs)
    assert splits == {"test": 10, "train": 10}
    assert {
        json.loads(doc.metadata["record"]["meta"])["fold_method"]
        for doc in r.docs
        if doc.metadata["split"] == "train"
    } == {"stratified"}
