"""What deduplication and decontamination removed, and which evaluation items the dropped records matched."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from corpusforge.report.build import BuildData
from corpusforge.report.page import Page, note, table

# one row per matched record: which evaluation item it matched, by which check, and the span that matched
HIT_COLUMNS = ["evaluation set", "source", "check", "record", "matches", "coverage", "matched span"]


def dedup_section(page: Page, data: BuildData) -> None:
    m = data.manifest
    s = page.section("dedup", "Deduplication and decontamination")
    dedup = m.get("deduplication") or {}
    s.add(table(["deduplication", "records dropped"], [[k, v] for k, v in dedup.items()], "dedup"))
    decontam = m.get("decontamination") or {}
    if decontam:
        s.add(
            table(
                ["decontamination check", "records dropped"], [[k, v] for k, v in decontam.items()], "decontamination"
            )
        )
    else:
        s.add(note("No decontamination step dropped anything (or the recipe has none)."))
    checks = m.get("decontamination_checks")
    if checks:
        rows = [
            [
                c.get("source"),
                c.get("step"),
                c.get("removed"),
                ", ".join(f"{k} {v}" for k, v in (c.get("by_reason") or {}).items()),
            ]
            for c in checks
        ]
        s.add(
            table(
                ["source", "decontamination step", "removed", "by reason"],
                rows,
                "decontamination-checks",
                numeric_from=2,
            )
        )
    contamination = m.get("contamination")
    if contamination:
        rows = []
        for eval_set, sources in contamination.items():
            for source, entry in sources.items():
                if isinstance(entry, dict):
                    # counts only: `ngram_matches` (every n-gram drop with its span) is shown from the hit files
                    shown = {k: v for k, v in entry.items() if k != "examples" and not isinstance(v, (list, dict))}
                    rows.append(
                        [
                            eval_set,
                            source,
                            ", ".join(f"{k} {v}" for k, v in shown.items()),
                            _examples_text(entry.get("examples")),
                        ]
                    )
        s.add(table(["evaluation set", "source", "dropped", "examples"], rows, "contamination", numeric_from=9))
    if data.contamination_hits:
        rows = [
            [
                h.get("eval_set"),
                h.get("source"),
                h.get("check"),
                h.get("id"),
                h.get("ref"),
                h.get("coverage"),
                _matched(h),
            ]
            for h in data.contamination_hits
        ]
        s.add(Markup("<h3>Matched records, with what matched</h3>"))
        s.add(table(HIT_COLUMNS, rows, "contamination-hits", numeric_from=9))


def _examples_text(examples: Any) -> str:
    if not examples:
        return ""
    return "; ".join(e if isinstance(e, str) else ", ".join(f"{k}: {v}" for k, v in e.items()) for e in examples)


def _matched(hit: dict[str, Any]) -> str:
    for key in ("span", "spans", "matched", "ngrams", "ngram"):
        value = hit.get(key)
        if value:
            return (
                " | ".join(value if isinstance(value, list) else [value])
                if not isinstance(value, dict)
                else str(value)
            )
    return "(matched by id)" if hit.get("check") == "id" else ""
