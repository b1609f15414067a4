"""What deduplication and the decontamination checks removed (per eval set: eval_contamination.py)."""

from __future__ import annotations

from corpusforge.report.build import BuildData
from corpusforge.report.page import Page, note, table


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
    if m.get("contamination") is not None:
        s.add(note("What each evaluation set removed, with the matched text beside the item: see the next section."))
