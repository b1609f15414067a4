"""What `decontam.eval_sets` removed, per evaluation set: documents checked and removed per source, then every
listed removal with the matched span beside the evaluation item, so a person can judge a drop in one look."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from markupsafe import Markup, escape

from corpusforge.instruct.contamination_report import evidence_text
from corpusforge.report.build import BuildData
from corpusforge.report.page import Page, note, table

COUNT_COLUMNS = ["source", "documents checked", "removed by id", "removed by text evidence"]
REMOVAL_COLUMNS = ["record", "source", "check", "evidence", "matched span (in the record)", "evaluation item"]


def contamination_section(page: Page, data: BuildData) -> None:
    contamination = data.manifest.get("contamination")
    if contamination is None:
        return
    s = page.section(
        "contamination",
        "Evaluation-set contamination",
        "Per evaluation set: how many documents of each source were compared with it and how many were removed, "
        "then the removed documents, each with the text that matched beside the evaluation item it matched.",
    )
    skipped = data.manifest.get("contamination_not_checked") or {}
    if skipped:
        s.add(
            note(
                "Not compared with any evaluation set: "
                + "; ".join(
                    f"{src}: " + ", ".join(f"{why} {n:,}" for why, n in c.items()) for src, c in skipped.items()
                )
            )
        )
    hits: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for hit in data.contamination_hits:
        hits[hit.get("eval_set")].append(hit)
    for eval_set, sources in contamination.items():
        rows = [[src, e.get("checked", 0), e.get("id", 0), e.get("ngram", 0)] for src, e in sources.items()]
        removed = sum(e.get("id", 0) + e.get("ngram", 0) for e in sources.values())
        s.add(Markup(f'<h3 data-eval-set="{escape(eval_set)}">{escape(eval_set)}</h3>'))
        s.add(table(COUNT_COLUMNS, rows, f"contamination-counts-{eval_set}"))
        if not any(r[1] for r in rows):
            s.add(note(f"No document was compared with {eval_set}: nothing was checked against it."))
        listed = sorted(hits.get(eval_set, []), key=lambda h: (h.get("source", ""), str(h.get("id"))))
        if not listed:
            continue
        shown = (
            f"{len(listed):,} of {removed:,} removals listed" if len(listed) < removed else f"{removed:,} removals"
        )
        s.add(note(shown))
        s.add(table(REMOVAL_COLUMNS, [_removal_row(h) for h in listed], f"contamination-removals-{eval_set}", 9))


def _removal_row(hit: dict[str, Any]) -> list[Any]:
    if hit.get("check") == "id":
        evidence, span = "same id or question", Markup('<span class="muted">(matched by id)</span>')
    else:
        evidence, span = evidence_text(hit), _text_block(hit.get("span") or "", "span")
    check = "text" if hit.get("check") == "ngram" else hit.get("check")
    return [hit.get("id"), hit.get("source"), check, evidence, span, _text_block(_item(hit), "item")]


def _item(hit: dict[str, Any]) -> str:
    return hit.get("item") or str(hit.get("ref") or "")


def _text_block(text: str, kind: str, limit: int = 600) -> Markup:
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return Markup(
        f'<div class="contamination-{kind}" style="white-space:pre-wrap;max-width:40em">{escape(shown)}</div>'
    )
