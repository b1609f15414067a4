"""The sections only an instruction dataset has: its mixture, and the QA statistics of its multiple-choice tasks."""

from __future__ import annotations

from collections import defaultdict

from corpusforge.report.build import BuildData
from corpusforge.report.page import Page, generic_table, table
from corpusforge.report.qa_stats import QAItem, make_tokenizer, qa_stats, table_rows


def mixture_section(page: Page, data: BuildData) -> None:
    mixture = data.manifest.get("mixture")
    if mixture:
        page.section("mixture", "Mixture").add(generic_table(mixture, "mixture"))


def qa_section(page: Page, data: BuildData) -> None:
    if not data.qa_rows:
        return
    tokenizer = make_tokenizer(None)
    groups: dict[str, list[QAItem]] = defaultdict(list)
    for r in data.qa_rows:
        groups[r["group"]].append(QAItem(r["question"], r["context"], r["answer"], r["label"]))
    stats = [qa_stats(name, items, tokenizer) for name, items in sorted(groups.items())]
    header, rows = table_rows(stats)
    s = page.section(
        "qa",
        "QA statistics",
        f"Like AntGLM-Med's Table 5, for the multiple-choice records of each "
        f"task. Lengths in {tokenizer.name}; answer = the explanation where the record has one.",
    )
    s.add(table(header, rows, "qa-stats"))
