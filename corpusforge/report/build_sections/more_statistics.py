"""Every other statistic the manifest records, for keys no section draws (statistics added over time)."""

from __future__ import annotations

from markupsafe import Markup, escape

from corpusforge.report.build import BuildData
from corpusforge.report.page import Page, generic_table

# manifest keys drawn by a section of their own; any other top-level key is shown under "More statistics"
KNOWN_KEYS = {
    "corpusforge_version",
    "recipe",
    "kind",
    "status",
    "built_at",
    "totals",
    "rows_written",
    "sources",
    "dropped_by_reason",
    "deduplication",
    "decontamination",
    "files",
    "quarantine_files",
    "tokenized",
    "mixture",
    "contamination",
    "totals_by_unit",
    "decontamination_checks",
    "contamination_not_checked",
    "warnings",
    "licenses",
}


def extra_section(page: Page, data: BuildData) -> None:
    extra = {k: v for k, v in data.manifest.items() if k not in KNOWN_KEYS and k not in ("books", "kg")}
    if extra:
        s = page.section("more", "More statistics", "Other statistics the build recorded in manifest.json.")
        for key, value in extra.items():
            s.add(Markup(f"<h3>{escape(key)}</h3>"), generic_table(value, f"extra-{key}"))
