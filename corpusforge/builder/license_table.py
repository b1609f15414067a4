"""Records and tokens per licence of a build's dataset, and the card's YAML `license` they imply.

The counter in front of the dataset writer counts each written document under its licence (see
pipeline/steps/accounting.py); this sums those counts over the tasks of every stage that has them (the source
stages when they write the dataset directly, else the write stage).
"""

from __future__ import annotations

from typing import Any

from corpusforge.builder.accounting import read_stage_stats
from corpusforge.builder.plan import BuildPlan
from corpusforge.output.card import markdown_table
from corpusforge.pipeline.licenses import MIXED, OTHER, PUBLIC_DOMAIN, UNKNOWN
from corpusforge.pipeline.steps.accounting import LICENSE_RECORDS, LICENSE_TOKENS
from corpusforge.pipeline.text_units import TOKENS_NAME


def license_counts(plan: BuildPlan) -> dict[str, dict[str, int]]:
    """{licence id: {records, tokens}}, most records first."""
    counts: dict[str, dict[str, int]] = {}
    for stage in plan.stages:
        for step in read_stage_stats(plan.stage_logs(stage)):
            for key, value in step.items():
                for prefix, field in ((LICENSE_RECORDS, "records"), (LICENSE_TOKENS, "tokens")):
                    if key.startswith(prefix):
                        row = counts.setdefault(key.removeprefix(prefix), {"records": 0, "tokens": 0})
                        row[field] += int(value)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1]["records"], kv[0])))


def manifest_section(counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {"token_unit": TOKENS_NAME, "by_license": counts}


def is_hub_license(license: str) -> bool:
    """Whether the Hub knows the id (its licence list: Creative Commons, MIT, Apache, BSD, GPL, ODC, ...)."""
    return license not in (PUBLIC_DOMAIN, MIXED) and (
        license.startswith(("cc-", "cc0", "bsd-", "gpl-", "lgpl-", "agpl-", "odc-", "odbl"))
        or license in ("mit", "apache-2.0", "unlicense", "pddl", "unknown", "other", "openrail")
    )


def card_license(explicit: str | None, counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    """The card's licence fields: the recipe's `output.card.license` when given; else the records' one licence
    when they all share it (as `other` + `license_name` when the Hub has no id for it); else `other`, with every
    licence in `license_name` and the table in the card body."""
    if explicit:
        return {"license": explicit}
    kept = [lic for lic, row in counts.items() if row["records"]]
    if not kept:
        return {}
    if len(kept) == 1:
        return {"license": kept[0]} if is_hub_license(kept[0]) else {"license": OTHER, "license_name": kept[0]}
    return {"license": OTHER, "license_name": "mixed: " + ", ".join(kept)}


def license_markdown(counts: dict[str, dict[str, int]]) -> str:
    """The card's licence table (records and tokens per licence, with shares)."""
    if not counts:
        return "No records were written, so there is no licence to report."
    records = sum(r["records"] for r in counts.values()) or 1
    tokens = sum(r["tokens"] for r in counts.values()) or 1
    rows = [
        [
            f"`{lic}`",
            f"{r['records']:,}",
            f"{r['records'] / records:.1%}",
            f"{r['tokens']:,}",
            f"{r['tokens'] / tokens:.1%}",
        ]
        for lic, r in counts.items()
    ]
    note = (
        f"Per record, from what its source states (JATS `<license>`, a Project Gutenberg notice) or the recipe's "
        f"`license:` for the source; `{UNKNOWN}` where neither says. Tokens: {TOKENS_NAME}. "
        "Filter on the licence with `filter.license` in a recipe, or on `meta`'s `license` after loading."
    )
    return note + "\n\n" + markdown_table(["licence", "records", "share", "tokens", "share of tokens"], rows)
