"""Accuracy, macro-F1 and confusion matrices for multiple-choice labels (the PubMedQA way).

PubMedQA's official evaluation computes accuracy and sklearn's macro-F1 over the gold label set
(yes/no/maybe), so a class never predicted still counts with F1 = 0. An all-"yes" prediction on the official
500-PMID test split scores accuracy 0.552 and macro-F1 0.2371.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

PUBMEDQA_LABELS = ("yes", "no", "maybe")


@dataclass
class ClassificationReport:
    n: int
    accuracy: float
    macro_f1: float
    per_label: dict[str, dict[str, float]]
    labels: list[str]
    confusion: list[list[int]] = field(default_factory=list)  # rows: gold, columns: predicted (+ "unlabeled")

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_label": self.per_label,
            "labels": self.labels,
            "confusion": self.confusion,
        }

    def confusion_table(self) -> str:
        """The confusion matrix as a markdown table (rows gold, columns predicted)."""
        cols = self.labels + ["unlabeled"]
        lines = ["| gold \\ predicted | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for label, row in zip(self.labels, self.confusion):
            lines.append(f"| {label} | " + " | ".join(str(c) for c in row) + " |")
        return "\n".join(lines)


def classification_report(
    gold: Sequence[str], predicted: Sequence[str | None], labels: Sequence[str] = PUBMEDQA_LABELS
) -> ClassificationReport:
    """Score `predicted` against `gold`; a None (unlabeled) prediction counts as wrong for every class."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    labels = list(labels)
    unknown = sorted({g for g in gold if g not in labels})
    if unknown:
        raise ValueError(f"gold labels {unknown} are not among {labels}")
    index = {label: i for i, label in enumerate(labels)}
    confusion = [[0] * (len(labels) + 1) for _ in labels]
    for g, p in zip(gold, predicted):
        confusion[index[g]][index.get(p, len(labels)) if p is not None else len(labels)] += 1
    n = len(gold)
    correct = sum(confusion[i][i] for i in range(len(labels)))
    per_label = {}
    for i, label in enumerate(labels):
        tp = confusion[i][i]
        fp = sum(confusion[j][i] for j in range(len(labels))) - tp
        fn = sum(confusion[i]) - tp
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"precision": precision, "recall": recall, "f1": f1, "support": sum(confusion[i])}
    macro_f1 = sum(v["f1"] for v in per_label.values()) / len(labels)
    return ClassificationReport(
        n=n,
        accuracy=correct / n if n else 0.0,
        macro_f1=macro_f1,
        per_label=per_label,
        labels=labels,
        confusion=confusion,
    )


def score_by_id(
    gold: Mapping[str, str], predicted: Mapping[str, str | None], labels: Sequence[str] = PUBMEDQA_LABELS
) -> ClassificationReport:
    """Score over exactly the ids of `gold` (e.g. the 500 official test PMIDs); a missing id counts as unlabeled."""
    ids = sorted(gold)
    return classification_report([gold[i] for i in ids], [predicted.get(i) for i in ids], labels)
