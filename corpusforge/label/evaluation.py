"""How good are the labels? The labeler run on PQA-L's official test split and scored per strategy.

The test items are selected by the PMIDs of test_ground_truth.json (never by position in ori_pqal.json), labelled
by the same job that would label PQA-U, and scored with corpusforge/eval/metrics.py: accuracy, macro-F1 (the
official PubMedQA way) and a confusion matrix, for every strategy of the job (and the ensemble vote), next to the
majority-class baseline, so a user can pick a strategy and model before labelling 61k items.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from corpusforge.errors import InputError
from corpusforge.eval.metrics import ClassificationReport, score_by_id
from corpusforge.formats.pubmedqa import load_test_ground_truth
from corpusforge.label.config import LabelJob
from corpusforge.label.items import LabelItem, iter_input
from corpusforge.label.job import run_label_job
from corpusforge.output.card import markdown_table


class EvalObserver:
    """Collects each strategy's prediction per PMID while records are written; scores them at the end."""

    def __init__(self, gold: dict[str, str], job: LabelJob):
        self.gold = gold
        self.labels = [o.text for o in job.task.options]
        self.names = list(job.strategies) + (["ensemble"] if job.strategy == "ensemble" else [])
        self.predictions: dict[str, dict[str, str | None]] = {name: {} for name in self.names}
        self.reports: dict[str, ClassificationReport] = {}

    def add(self, record: dict[str, Any]) -> None:
        for member in record["strategies"]:
            self.predictions[member["strategy"]][record["pmid"]] = member["label"]
        if "ensemble" in self.predictions:
            self.predictions["ensemble"][record["pmid"]] = record["label"]

    def finish(self) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.reports = evaluate(self.gold, self.predictions, self.labels)
        payload = {"eval": {name: report.to_dict() for name, report in self.reports.items()}}
        return payload, [("Evaluation on the PQA-L test split", eval_markdown(self.reports))]


def evaluate(
    gold: dict[str, str], predictions: dict[str, dict[str, str | None]], labels: list[str]
) -> dict[str, ClassificationReport]:
    """A report per strategy, plus the majority-class baseline computed the same way."""
    reports = {name: score_by_id(gold, preds, labels) for name, preds in predictions.items()}
    if gold:
        majority = Counter(gold.values()).most_common(1)[0][0]
        reports[f"baseline: always {majority!r}"] = score_by_id(gold, dict.fromkeys(gold, majority), labels)
    return reports


def eval_markdown(reports: dict[str, ClassificationReport]) -> str:
    rows = []
    for name, r in reports.items():
        unlabeled = sum(row[-1] for row in r.confusion)
        rows.append([name, r.n, f"{r.accuracy:.4f}", f"{r.macro_f1:.4f}", unlabeled])
    parts = [markdown_table(["strategy", "items", "accuracy", "macro-F1", "unlabeled"], rows)]
    for name, r in reports.items():
        if not name.startswith("baseline"):
            parts.append(f"**{name}** confusion matrix (rows: gold, columns: predicted)\n\n{r.confusion_table()}")
    return "\n\n".join(parts)


def select_test_items(job: LabelJob, ground_truth: str | Path) -> tuple[dict[str, str], set[str]]:
    """(gold labels of the selected test PMIDs, the selected PMIDs).

    Every official test PMID must be in the input (a PQA-L file), unless --limit asks for the first N of them.
    """
    gold = load_test_ground_truth(ground_truth)
    seen: list[str] = []
    for record in iter_input(job.input):
        if isinstance(record, LabelItem) and record.id in gold:
            seen.append(record.id)
    seen = list(dict.fromkeys(seen))
    if job.run.limit is not None:
        seen = seen[: job.run.limit]
    else:
        missing = sorted(set(gold) - set(seen))
        if missing:
            raise InputError(
                f"{job.input.path or job.input.hub}: {len(missing)} of the {len(gold)} test PMIDs of {ground_truth} "
                f"are not in the input (e.g. {missing[:5]}); evaluation needs the PQA-L file (ori_pqal.json)"
            )
    selected = set(seen)
    return {pmid: gold[pmid] for pmid in seen}, selected


def run_label_eval(job: LabelJob, ground_truth: str | Path, **run_kwargs: Any):
    """Label the selected test items with `job` and score them; returns (LabelRun, {strategy: report})."""
    gold, selected = select_test_items(job, ground_truth)
    job = job.model_copy(update={"run": job.run.model_copy(update={"limit": None})})
    observer = EvalObserver(gold, job)
    run = run_label_job(job, keep=lambda item: item.id in selected, observers=[observer], **run_kwargs)
    return run, observer.reports
