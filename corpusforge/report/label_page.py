"""The report of a label output: are the pseudo-labels confident, do the strategies agree, how good are they?

From manifest.json (summary, per-strategy counts, evaluation) and the records themselves (confidence, agreement,
each strategy's label), plus the quarantined inputs. Records shown in the browser are a sample per label.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import escape

from corpusforge.output.dataset_dir import MANIFEST, QUARANTINE_DIR, split_files
from corpusforge.report import charts
from corpusforge.report.build import EXAMPLES_PER_REASON, KEPT_PER_SOURCE, RAW_CHARS, cut
from corpusforge.report.card_parts import CardFigure
from corpusforge.report.page import Page, chart, note, pre, row, table

COLUMNS = [
    "id",
    "pmid",
    "question",
    "label",
    "confidence",
    "agreement",
    "unlabeled_reason",
    "raw_answer",
    "strategies",
    "gold",
    "provenance",
]


@dataclass
class LabelData:
    root: Path
    manifest: dict[str, Any]
    labels: list[str | None]
    confidence: np.ndarray
    agreement: np.ndarray
    strategy_labels: dict[str, list[str | None]]  # strategy -> label per record (None: unlabeled)
    samples: list[dict[str, Any]]
    quarantined: list[dict[str, Any]]


def collect_label(root: Path, seed: int = 0) -> LabelData:
    import pyarrow.parquet as pq

    root = Path(root)
    manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    labels: list[str | None] = []
    confidence: list[float] = []
    agreement: list[float] = []
    per_strategy: dict[str, list[str | None]] = defaultdict(list)
    by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rng = random.Random(seed)
    seen: Counter = Counter()
    for rels in split_files(root).values():
        for rel in rels:
            pf = pq.ParquetFile(root / rel)
            columns = [c for c in COLUMNS if c in pf.schema_arrow.names]
            for batch in pf.iter_batches(batch_size=4096, columns=columns):
                for r in batch.to_pylist():
                    n = len(labels)
                    labels.append(r.get("label"))
                    confidence.append(np.nan if r.get("confidence") is None else r["confidence"])
                    agreement.append(np.nan if r.get("agreement") is None else r["agreement"])
                    members = {s["strategy"]: s.get("label") for s in r.get("strategies") or []}
                    for name in list(per_strategy) + [k for k in members if k not in per_strategy]:
                        values = per_strategy[name]  # one entry per record, None where a strategy gave none
                        values.extend([None] * (n - len(values)))
                        values.append(members.get(name))
                    key = r.get("label") or f"unlabeled: {r.get('unlabeled_reason') or '?'}"
                    seen[key] += 1  # a reservoir sample per label
                    if len(by_label[key]) < KEPT_PER_SOURCE:
                        by_label[key].append(r)
                    elif (j := rng.randrange(seen[key])) < KEPT_PER_SOURCE:
                        by_label[key][j] = r
    samples = [_sample(r) for key in sorted(by_label) for r in by_label[key]]
    return LabelData(
        root,
        manifest,
        labels,
        np.asarray(confidence, dtype=float),
        np.asarray(agreement, dtype=float),
        dict(per_strategy),
        samples,
        _quarantined(root),
    )


def _sample(r: dict[str, Any]) -> dict[str, Any]:
    labeled = r.get("label") is not None
    members = "; ".join(
        f"{m['strategy']}: {m.get('label')}"
        + (f" ({m['confidence']:.2f})" if m.get("confidence") is not None else "")
        for m in r.get("strategies") or []
    )
    text = r.get("question") or ""
    if not labeled and r.get("raw_answer"):
        text += f"\n\nmodel answer (unparsed): {r['raw_answer']}"
    return {
        "kind": "kept" if labeled else "dropped",
        "source": r["label"] if labeled else "unlabeled",
        "reason": "labeled" if labeled else (r.get("unlabeled_reason") or "unlabeled"),
        "id": r.get("id"),
        "text": cut(text, RAW_CHARS),
        "chars": None,
        "location": r.get("provenance"),
        "detail": {
            "confidence": None if r.get("confidence") is None else round(r["confidence"], 3),
            "agreement": r.get("agreement"),
            "gold": r.get("gold"),
            "strategies": members,
        },
    }


def _quarantined(root: Path) -> list[dict[str, Any]]:
    out, seen = [], Counter()
    folder = root / QUARANTINE_DIR
    for path in sorted(folder.rglob("*.jsonl")) if folder.is_dir() else []:
        for line_no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            try:
                q = json.loads(line)
            except json.JSONDecodeError:
                continue
            seen[q.get("reason")] += 1
            if seen[q.get("reason")] <= EXAMPLES_PER_REASON:
                raw = q.get("raw")
                out.append(
                    {
                        "kind": "quarantined",
                        "source": path.parent.name,
                        "reason": q.get("reason") or "?",
                        "id": None,
                        "text": cut(
                            raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str),
                            RAW_CHARS,
                        ),
                        "chars": None,
                        "location": q.get("location"),
                        "detail": {
                            "error": q.get("detail"),
                            "file": f"{path.relative_to(root).as_posix()}:{line_no}",
                        },
                    }
                )
    return out


def agreement_matrix(strategy_labels: dict[str, list[str | None]]) -> tuple[list[str], np.ndarray]:
    """Share of items on which two strategies give the same label (both labelled)."""
    names = list(strategy_labels)
    m = np.zeros((len(names), len(names)))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            pairs = [
                (x, y) for x, y in zip(strategy_labels[a], strategy_labels[b]) if x is not None and y is not None
            ]
            m[i, j] = sum(x == y for x, y in pairs) / len(pairs) if pairs else np.nan
    return names, m


def label_page(data: LabelData) -> Page:
    m = data.manifest
    s = m.get("summary", {})
    total = s.get("input_records", len(data.labels))
    page = Page(
        title=f"labels: {m.get('task', '?')} by {Path(str(m.get('model', '?'))).name} ({m.get('strategy')})",
        kind="label output",
        path=str(data.root),
        status=m.get("status", "ok"),
        summary=(
            f"{s.get('labeled', 0):,} of {total:,} input items labelled with strategy {m.get('strategy')} "
            f"({', '.join(m.get('strategies') or [])}); {s.get('unlabeled', 0):,} left unlabeled with a reason, "
            f"{s.get('quarantined', 0):,} quarantined. Mean confidence "
            f"{_mean(data.confidence):.3f}"
            + (f", mean agreement {_mean(data.agreement):.3f}." if np.isfinite(data.agreement).any() else ".")
        ),
    )
    page.warnings = list(m.get("warnings") or s.get("warnings") or [])
    page.cards = [
        ("Input", f"{total:,}", "items"),
        ("Kept", f"{s.get('labeled', 0):,}", "labelled"),
        ("Dropped", f"{s.get('unlabeled', 0):,}", "unlabeled (counted reason)"),
        ("Quarantined", f"{s.get('quarantined', 0):,}", "malformed input"),
        ("Confidence", f"{_mean(data.confidence):.3f}", "mean"),
    ]
    if m.get("eval"):
        best = max(
            ((k, v) for k, v in m["eval"].items() if not k.startswith("baseline")),
            key=lambda kv: kv[1].get("accuracy", 0),
            default=None,
        )
        if best:
            page.cards.append(
                ("Accuracy", f"{best[1]['accuracy']:.3f}", f"{best[0]}, macro-F1 {best[1]['macro_f1']:.3f}")
            )

    sec = page.section("labels", "Labels")
    sec.add(
        row(
            chart("label-distribution", charts.svg(label_distribution_figure(data))),
            chart("confidence", charts.svg(confidence_figure(data))),
        )
    )
    if np.isfinite(data.agreement).any():
        agreement = share_histogram(
            data.agreement,
            "Agreement of the strategies",
            "share of strategies choosing the label",
            bins=10,
            color=charts.PALETTE[1],
        )
        sec.add(chart("agreement", charts.svg(agreement)))
    confident = {t: int((data.confidence >= t).sum()) for t in (0.5, 0.6, 0.7, 0.8, 0.9)}
    sec.add(
        table(
            ["confidence at least", "items"],
            [[t, n] for t, n in confident.items()],
            "confidence-thresholds",
            numeric_from=1,
        )
    )
    if s.get("unlabeled_by_reason"):
        sec.add(table(["unlabeled reason", "items"], list(s["unlabeled_by_reason"].items()), "unlabeled"))

    if data.strategy_labels:
        st = page.section(
            "strategies",
            "Strategies",
            "Each strategy's labels, and how often two strategies agree (over the items both labelled).",
        )
        per = s.get("per_strategy") or {}
        if per:
            header = ["strategy", *next(iter(per.values())).keys()]
            st.add(table(header, [[k, *v.values()] for k, v in per.items()], "per-strategy"))
        if len(data.strategy_labels) > 1:
            names, matrix = agreement_matrix(data.strategy_labels)
            st.add(
                chart(
                    "agreement-matrix",
                    charts.svg(
                        charts.matrix(
                            np.nan_to_num(matrix),
                            names,
                            names,
                            "Agreement between strategies",
                            fmt="{:.2f}",
                            vmax=1.0,
                        )
                    ),
                )
            )

    if m.get("eval"):
        eval_section(page, m["eval"])
    ref = page.section("settings", "How it was labelled")
    ref.add(
        table(
            ["setting", "value"],
            [
                [k, json.dumps(m.get(k), default=str) if isinstance(m.get(k), (dict, list)) else m.get(k)]
                for k in ("task", "model", "strategy", "strategies", "template_hashes", "backend")
                if k in m
            ],
            "settings",
        )
    )
    if m.get("job"):
        import yaml

        ref.add(pre(yaml.safe_dump(m["job"], sort_keys=False, allow_unicode=True), "job"))
    page.records = [dict(r, html=escape(r["text"]), split=None) for r in data.samples + data.quarantined]
    return page


def eval_section(page: Page, evaluation: dict[str, Any]) -> None:
    sec = page.section(
        "eval",
        "Evaluation",
        "On the labelled test items (PQA-L's official test PMIDs): each "
        "strategy next to the majority-class baseline, computed the same way.",
    )
    rows = [[name, r.get("n"), r.get("accuracy"), r.get("macro_f1")] for name, r in evaluation.items()]
    sec.add(table(["strategy", "items", "accuracy", "macro-F1"], rows, "eval"))
    figures = []
    for name, r in evaluation.items():
        if name.startswith("baseline") or not r.get("confusion"):
            continue
        labels = r.get("labels") or []
        columns = [*labels, "unlabeled"][: len(r["confusion"][0])]
        figures.append(
            chart(
                f"confusion-{name}",
                charts.svg(
                    charts.matrix(
                        r["confusion"],
                        labels,
                        columns,
                        f"{name}: confusion",
                        row_label="gold",
                        column_label="predicted",
                    )
                ),
                f"accuracy {r['accuracy']:.3f}, macro-F1 {r['macro_f1']:.3f}",
            )
        )
    if figures:
        sec.add(row(*figures))
    else:
        sec.add(note("No confusion matrix recorded."))


def _mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def label_distribution_figure(data: LabelData):
    dist = data.manifest.get("summary", {}).get("label_distribution") or dict(Counter(x for x in data.labels if x))
    return charts.bars(dist, "Label distribution", "items")


def confidence_figure(data: LabelData):
    return share_histogram(data.confidence, "Confidence of the final label", "probability of the label", bins=20)


def share_histogram(values: np.ndarray, title: str, xlabel: str, bins: int, color: str = charts.PALETTE[0]):
    """A histogram over [0, 1] in `bins` equal bins of the finite values (NaN: a record without one)."""
    return charts.histogram(values[np.isfinite(values)], title, xlabel, bins=np.linspace(0, 1, bins + 1), color=color)


def card_figures(data: LabelData) -> list[CardFigure]:
    """The plots the label output's card shows (written by card_parts.write_card_plots)."""
    return [
        ("Label distribution", label_distribution_figure(data), "label_distribution.png"),
        ("Confidence of the final label", confidence_figure(data), "confidence.png"),
    ]
