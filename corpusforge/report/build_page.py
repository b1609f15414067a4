"""The report of a built dataset, its sections in order (each drawn by a module of build_sections/): funnel,
reasons, lengths, languages, dedup and decontamination, licences, books, knowledge graph, QA statistics and the record browser;
and the few plots the dataset card shows as images."""

from __future__ import annotations

from corpusforge.report import charts
from corpusforge.report.build import BuildData
from corpusforge.report.build_sections.browser import browser_records
from corpusforge.report.build_sections.contamination import dedup_section
from corpusforge.report.build_sections.eval_contamination import contamination_section
from corpusforge.report.build_sections.funnel import drop_reasons_figure, funnel_section, reasons_section
from corpusforge.report.build_sections.instruct import mixture_section, qa_section
from corpusforge.report.build_sections.lengths import languages_section, lengths_section, source_chars_figure
from corpusforge.report.build_sections.licences import licences_section
from corpusforge.report.build_sections.more_statistics import extra_section
from corpusforge.report.build_sections.step_details import books_section, kg_section
from corpusforge.report.card_parts import CardFigure
from corpusforge.report.page import Page, pre


def build_page(data: BuildData) -> Page:
    m = data.manifest
    t = m["totals"]
    unit = "records" if data.kind == "instruct" else "documents"
    balanced = all(s.get("balanced", True) for s in m["sources"].values())
    page = Page(
        title=f"{m['recipe']}",
        kind=f"{'instruction' if data.kind == 'instruct' else 'pretraining'} dataset build",
        path=str(data.root),
        status=m.get("status", "ok"),
        summary=(
            f"{t['kept']:,} {unit} kept from {t['input']:,} input records of {len(m['sources'])} sources: "
            f"{t['dropped']:,} dropped with a counted reason, {t['quarantined']:,} quarantined as malformed. "
            + (
                "Every source balances (input = kept + dropped + quarantined, in each unit)."
                if balanced
                else "SOME SOURCES DO NOT BALANCE: see the funnel."
            )
        ),
    )
    page.warnings = list(m.get("warnings") or [])
    page.cards = [
        ("Input", f"{t['input']:,}", "records read"),
        ("Kept", f"{t['kept']:,}", unit),
        ("Dropped", f"{t['dropped']:,}", f"{len(m['dropped_by_reason'])} reasons"),
        ("Quarantined", f"{t['quarantined']:,}", "malformed input"),
        ("Rows", f"{m['rows_written']:,}", f"in {len(m['files'])} parquet files"),
        ("Sources", str(len(m["sources"])), "all balance" if balanced else "NOT BALANCED"),
    ]
    if m.get("tokenized"):
        page.cards.append(("Tokens", f"{m['tokenized']['tokens']:,}", f"{m['tokenized']['files']} .ds files"))
    funnel_section(page, data)
    reasons_section(page, data)
    lengths_section(page, data)
    languages_section(page, data)
    dedup_section(page, data)
    licences_section(page, data)
    contamination_section(page, data)
    books_section(page, data)
    kg_section(page, data)
    if data.kind == "instruct":
        mixture_section(page, data)
        qa_section(page, data)
    extra_section(page, data)
    if data.recipe_yaml:
        page.section("recipe", "Recipe", "The resolved recipe this dataset was built from.").add(
            pre(data.recipe_yaml, "recipe")
        )
    page.records = browser_records(data)
    return page


def card_figures(data: BuildData) -> list[CardFigure]:
    """The plots the dataset's card shows (written by card_parts.write_card_plots)."""
    figures = [("Where every input record went", charts.funnel(data.manifest["sources"]), "funnel.png")]
    if data.manifest["dropped_by_reason"]:
        figures.append(
            ("Dropped, by reason", drop_reasons_figure(data.manifest["dropped_by_reason"]), "drop_reasons.png")
        )
    if data.lengths:
        figures.append(("Characters per record, by source", source_chars_figure(data), "lengths.png"))
    return figures
