"""What the kept records look like: their lengths in characters, words and tokens, and their language mix."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from corpusforge.report import charts
from corpusforge.report.build import BuildData
from corpusforge.report.page import Page, chart, row, table

# section id -> (title, intro)
_HEADINGS = {
    "lengths": (
        "Lengths",
        "Kept records. Words: runs of non-space characters, each Han character "
        "counted as one word. A log scale where lengths span orders of magnitude.",
    ),
    "languages": (
        "Language mix",
        "The record's `language` field where it has one (instruction records); for documents, a guess from the "
        "script (the share of Han characters among letters), since no language model is available offline.",
    ),
}


def lengths_section(page: Page, data: BuildData) -> None:
    s = page.section("lengths", *_HEADINGS["lengths"])
    words = length_arrays(data, "words")
    s.add(
        row(
            chart("length-chars", charts.svg(source_chars_figure(data))),
            chart("length-words", charts.svg(charts.histograms(words, "Words per record, by source", "words"))),
        )
    )
    splits = sorted({split for _, split in data.lengths})
    if len(splits) > 1:
        s.add(
            chart(
                "length-splits",
                charts.svg(
                    charts.histograms(
                        length_arrays(data, "chars", by="split"), "Characters per record, by split", "characters"
                    )
                ),
            )
        )
    if data.token_lengths is not None:
        s.add(
            chart(
                "length-tokens",
                charts.svg(
                    charts.histograms(
                        {"all documents": data.token_lengths}, "Tokens per document (tokenized shards)", "tokens"
                    )
                ),
            )
        )
    rows = []
    for (source, split), stats in sorted(data.lengths.items()):
        sm = stats.summary()
        c, w = sm["chars"] or {}, sm["words"] or {}
        rows.append(
            [
                source,
                split,
                sm["records"],
                c.get("mean"),
                c.get("p50"),
                c.get("p95"),
                c.get("max"),
                w.get("mean"),
                w.get("p50"),
                w.get("total"),
            ]
        )
    s.add(
        table(
            [
                "source",
                "split",
                "records",
                "chars mean",
                "median",
                "p95",
                "max",
                "words mean",
                "median",
                "words total",
            ],
            rows,
            "lengths",
            numeric_from=2,
        )
    )


def languages_section(page: Page, data: BuildData) -> None:
    s = page.section("languages", *_HEADINGS["languages"])
    if not data.languages:
        s.add("No records.")
        return
    table_data = {src: dict(c) for src, c in sorted(data.languages.items())}
    s.add(chart("languages", charts.svg(charts.stacked_shares(table_data, "Language by source"))))
    langs = sorted({k for c in data.languages.values() for k in c})
    s.add(
        table(
            ["source", *langs], [[src, *[c.get(k, 0) for k in langs]] for src, c in table_data.items()], "languages"
        )
    )


def length_arrays(data: BuildData, measure: str, by: str = "source") -> dict[str, np.ndarray]:
    """{source (or split): the `measure` (chars, words) of its kept records}, sorted by name."""
    groups: dict[str, list[np.ndarray]] = defaultdict(list)
    for (source, split), stats in data.lengths.items():
        groups[source if by == "source" else split].append(stats.array(measure))
    return {name: np.concatenate(arrays) for name, arrays in sorted(groups.items())}


def source_chars_figure(data: BuildData):
    return charts.histograms(length_arrays(data, "chars"), "Characters per record, by source", "characters")
