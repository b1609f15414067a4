"""Where every input record went: the per-source funnel, and the reasons records were dropped or quarantined."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from markupsafe import Markup

from corpusforge.report import charts
from corpusforge.report.build import BuildData
from corpusforge.report.page import Page, chart, note, row, table

# one row per source and unit: a source whose records change unit (books into chunks) has one row per unit
SEGMENT_COLUMNS = ["source", "unit", "input", "out (kept)", "dropped", "quarantined", "balanced"]


def funnel_section(page: Page, data: BuildData) -> None:
    sources = data.manifest["sources"]
    s = page.section(
        "funnel",
        "Funnel",
        "Per source, where every input record went. A source whose records change unit (books into chunks, "
        "triples into subgraphs) has one bar per unit; each bar adds up in its own unit.",
    )
    funnel = chart("funnel", charts.svg(charts.funnel(sources)), "Shares of each source's input; counts on the bars.")
    reasons = data.manifest["dropped_by_reason"]
    if reasons:
        s.add(
            row(
                funnel, chart("drop-reasons", charts.svg(drop_reasons_figure(reasons)), "Details and examples below.")
            )
        )
    else:
        s.add(funnel)
    rows = []
    for name, src in sources.items():
        for i, seg in enumerate(src.get("segments") or []):
            rows.append(
                [
                    name if i == 0 else "",
                    seg["unit"],
                    seg["input"],
                    seg["output"],
                    sum(seg["dropped"].values()),
                    seg.get("quarantined", 0),
                    seg.get("balanced", True),
                ]
            )
    s.add(table(SEGMENT_COLUMNS, rows, "funnel", numeric_from=2))
    s.add(note("; ".join(f"{n}: {src['balance']}" for n, src in sources.items() if src.get("balance"))))
    by_unit = data.manifest.get("totals_by_unit")
    if by_unit:
        columns = list(dict.fromkeys(k for v in by_unit.values() for k in v))
        s.add(Markup("<h3>Totals by unit</h3>"))
        s.add(table(["unit", *columns], [[u, *[v.get(c) for c in columns]] for u, v in by_unit.items()], "by-unit"))


def reasons_section(page: Page, data: BuildData) -> None:
    m = data.manifest
    s = page.section("reasons", "Why records were dropped or quarantined")
    per_source: dict[str, dict[str, int]] = defaultdict(dict)
    for name, src in m["sources"].items():
        for reason, n in src["dropped"].items():
            per_source[reason][name] = n
    examples = Counter((r["kind"], r["reason"]) for r in data.dropped_samples + data.quarantine_samples)
    if m["dropped_by_reason"]:
        rows = [
            [reason, n, ", ".join(f"{k} {v:,}" for k, v in per_source[reason].items()), examples[("dropped", reason)]]
            for reason, n in sorted(m["dropped_by_reason"].items(), key=lambda kv: -kv[1])
        ]
        s.add(table(["reason", "dropped", "by source", "examples in the browser"], rows, "drop-reasons"))
        missing = [r[0] for r in rows if not r[3]]
        if missing:
            s.add(
                note(
                    f"No examples kept for {', '.join(missing)}: these are counted by steps that drop in bulk "
                    "(triples not sampled, a mixture's caps) or by a build made before examples were kept."
                )
            )
    else:
        s.add("Nothing was dropped.")
    quarantined: Counter = Counter()
    for name, src in m["sources"].items():
        for reason, n in src.get("quarantined_by_reason", {}).items():
            quarantined[(name, reason)] += n
    if quarantined:
        s.add(
            table(
                ["source", "quarantine reason", "records", "examples in the browser"],
                [[src, r, n, examples[("quarantined", r)]] for (src, r), n in sorted(quarantined.items())],
                "quarantine-reasons",
                numeric_from=2,
            )
        )
    else:
        s.add(note("No input record was quarantined."))


def drop_reasons_figure(reasons: dict[str, Any]):
    return charts.bars(reasons, "Dropped, by reason", "records", charts.DROPPED)
