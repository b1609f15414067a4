"""What the books and knowledge-graph steps counted: stripping by kind, triples covered, subgraphs by sampler."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

from corpusforge.report import charts
from corpusforge.report.build import BuildData
from corpusforge.report.page import Page, Section, chart, collapsed, generic_table, table


def _details(data: BuildData, pattern: str) -> dict[str, dict[str, dict[str, float]]]:
    """{source: {step: stats}} of the per-step details whose step name matches `pattern`."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, src in data.manifest["sources"].items():
        steps = {step: stats for step, stats in (src.get("details") or {}).items() if re.search(pattern, step)}
        if steps:
            out[name] = steps
    return out


def _per_source(data: BuildData, key: str) -> dict[str, dict[str, Any]]:
    """{source: manifest["sources"][source][key]} for the sources that recorded `key`."""
    return {n: src[key] for n, src in data.manifest["sources"].items() if src.get(key)}


def _recorded(data: BuildData, step_prefix: str, manifest_keys: tuple[str, ...], source_key: str) -> tuple:
    """What the build recorded for one family of steps: (per-step details of the steps named `<step_prefix>.*`,
    the manifest's table under the first of `manifest_keys` that has one, per-source statistics under `source_key`)."""
    manifest_table = None
    for key in manifest_keys:
        manifest_table = data.manifest.get(key)
        if manifest_table:
            break
    return _details(data, rf"^{step_prefix}\."), manifest_table, _per_source(data, source_key)


# section id -> (title, intro)
_HEADINGS = {
    "books": (
        "Books: what stripping removed",
        "Counted by the books steps: tables, figures, running heads, references, indexes... removed before chunking.",
    ),
    "kg": (
        "Knowledge graph coverage",
        "How many triples ended in at least one subgraph document, and which sampler made the subgraphs.",
    ),
}


def _section_if_any(page: Page, section_id: str, recorded: tuple) -> Section | None:
    """The section, opened only when the build recorded something for it (a report shows no empty sections)."""
    if not any(recorded):
        return None
    return page.section(section_id, *_HEADINGS[section_id])


def _counts_chart(name: str, counts: dict[str, Any], title: str, unit: str, color: str) -> Markup:
    return chart(name, charts.svg(charts.bars(counts, title, unit, color)))


def _step_statistics(source: str, step: str, stats: dict[str, float], name: str) -> Markup:
    """Every statistic one step recorded, behind a toggle."""
    return collapsed(f"{source}: {step} statistics", table(["statistic", "value"], sorted(stats.items()), name))


def books_section(page: Page, data: BuildData) -> None:
    details, books, stripping = recorded = _recorded(data, "books", ("books",), "book_stripping")
    if (s := _section_if_any(page, "books", recorded)) is None:
        return
    for source, st in stripping.items():
        kept = st.get("share_of_chars_kept")
        if kept is not None:
            s.add(
                Markup(
                    f"<p><b>{escape(source)}</b>: {st.get('chars_out', 0):,} of {st.get('chars_in', 0):,} "
                    f"characters kept (<b>{kept:.1%}</b>).</p>"
                )
            )
        by_kind = st.get("chars_stripped_by_kind") or {}
        if by_kind:
            title = f"{source}: characters stripped, by kind"
            s.add(_counts_chart(f"books-stripped-{source}", by_kind, title, "characters", charts.PALETTE[5]))
        s.add(collapsed(f"{source}: every stripping statistic", generic_table(st, f"book-stripping-{source}")))
    for source, steps in details.items():
        for step, stats in steps.items():
            counts = {
                k.removeprefix("stripped_"): v
                for k, v in stats.items()
                if k.startswith("stripped_") and not k.endswith("_lines")
            }
            if counts:
                title = f"{source}: blocks stripped by kind ({step})"
                s.add(_counts_chart(f"books-{source}-{step}", counts, title, "blocks", charts.PALETTE[5]))
            s.add(_step_statistics(source, step, stats, f"books-{step}"))
    if books:
        s.add(Markup("<h3>Per book</h3>"))
        s.add(generic_table(books, "books-manifest"))


def kg_section(page: Page, data: BuildData) -> None:
    details, kg, coverage = recorded = _recorded(data, "kg", ("kg", "knowledge_graph"), "kg_coverage")
    if (s := _section_if_any(page, "kg", recorded)) is None:
        return
    for source, steps in details.items():
        for step, stats in steps.items():
            if "triples_in" in stats and "triples_covered" in stats:
                covered = stats["triples_covered"] / max(stats["triples_in"], 1)
                s.add(
                    Markup(
                        f"<p><b>{escape(source)}</b>: {int(stats['triples_covered']):,} of "
                        f"{int(stats['triples_in']):,} triples covered (<b>{covered:.1%}</b>).</p>"
                    )
                )
            kinds = {k.removeprefix("subgraphs_"): v for k, v in stats.items() if k.startswith("subgraphs_")}
            if kinds:
                title = f"{source}: subgraphs by sampler"
                s.add(_counts_chart(f"kg-{source}", kinds, title, "documents", charts.PALETTE[2]))
            s.add(_step_statistics(source, step, stats, f"kg-{step}"))
    for source, cov in coverage.items():
        s.add(
            Markup(f"<h3>{escape(source)}: coverage recorded by the build</h3>"), generic_table(cov, f"kg-{source}")
        )
    if kg:
        s.add(generic_table(kg, "kg-manifest"))
