"""The official PubMedQA PQA-L split: 500 test items and 10 cross-validation folds of 50 over the other 500.

The test set is always the PMIDs of the official `test_ground_truth.json`, with its labels; it is never chosen by
position or by a random draw of our own.

The folds reproduce what the official repository's `preprocess/split_dataset.py` (pubmedqa/pubmedqa) does:
one `random.Random(0)` stream; the 1000 PMIDs, in the order of `ori_pqal.json`, are grouped by label (yes, no,
maybe), each group is shuffled and cut in 2 (test / CV), then the CV PMIDs (in that new order) are grouped,
shuffled and cut in 10 again by label; the last fold comes out short (41) and takes one random PMID from each of
the other nine, giving 10 x 50. Replaying that stream is only meaningful when its first cut gives exactly the
official test PMIDs - checked here: on the real ori_pqal.json it does, so the folds are the official ones
(`method = "official"`).

When the replay does not match (a different file order, the Hub layout, a subset), the same stratified procedure
runs on the non-test PMIDs sorted numerically, with `random.Random(seed)`: deterministic and independent of file
order, but not the official assignment (`method = "stratified"`). Either way the folds partition the non-test
PMIDs and every fold's dev part is 1/n of them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

LABEL_ORDER = ("yes", "no", "maybe")


@dataclass
class PQALSplit:
    """test: {pmid: official label}; folds[k]: the PMIDs of fold k (its dev set; its train set is the rest)."""

    test: dict[str, str]
    folds: list[list[str]]
    method: Literal["official", "stratified"]
    _fold_of: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._fold_of = {pmid: k for k, fold in enumerate(self.folds) for pmid in fold}

    def fold_of(self, pmid: str) -> int | None:
        """The fold whose dev set holds `pmid` (None for test PMIDs and unknown ones)."""
        return self._fold_of.get(pmid)

    def train_pmids(self, fold: int) -> list[str]:
        return [p for k, f in enumerate(self.folds) if k != fold for p in f]


def _cut_by_label(labels: Mapping[str, str], parts: int, rng: random.Random) -> list[list[str]]:
    """split_dataset.py's `split`: per label shuffle and cut in `parts`; then even out the last part."""
    by_label: dict[str, list[str]] = {label: [] for label in LABEL_ORDER}
    for pmid, label in labels.items():
        by_label[label].append(pmid)
    cut: dict[str, list[list[str]]] = {}
    for label, pmids in by_label.items():
        rng.shuffle(pmids)
        size = math.ceil(len(pmids) / parts)
        cut[label] = [pmids[i * size : (i + 1) * size] if i < parts - 1 else pmids[i * size :] for i in range(parts)]
    out = [[p for label in by_label for p in cut[label][i]] for i in range(parts)]
    if len(out[-1]) != len(out[0]):
        for i in range(parts - 1):
            if not out[i]:  # only with tiny inputs (the fallback on samples); the official data never gets here
                continue
            picked = rng.choice(out[i])
            out[i].remove(picked)
            out[-1].append(picked)
    return out


def pqal_split(
    labels: Mapping[str, str], ground_truth: Mapping[str, str], n_folds: int = 10, seed: int = 0
) -> PQALSplit:
    """The official split of PQA-L. `labels`: {pmid: final_decision} in ori_pqal.json order."""
    unknown = sorted(set(labels.values()) - set(LABEL_ORDER))
    if unknown:
        raise ValueError(f"labels must be one of {LABEL_ORDER}, got {unknown}")
    test = {str(p): ground_truth[p] for p in ground_truth}
    rng = random.Random(0)
    cv_part, test_part = _cut_by_label(dict(labels), 2, rng)
    if set(test_part) == set(test) and set(cv_part) | set(test_part) == set(labels):
        cv_labels = {p: labels[p] for p in cv_part}
        return PQALSplit(test, _cut_by_label(cv_labels, n_folds, rng), "official")
    rest = sorted((p for p in labels if p not in test), key=lambda p: (len(p), p))
    rng = random.Random(seed)
    return PQALSplit(test, _cut_by_label({p: labels[p] for p in rest}, n_folds, rng), "stratified")
