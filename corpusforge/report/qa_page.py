"""The report of raw PubMedQA files: AntGLM-Med's Table 5 measured from the files, next to the paper's numbers."""

from __future__ import annotations

from pathlib import Path

from corpusforge.report import charts
from corpusforge.report.page import Page, chart, note, table
from corpusforge.report.qa_stats import make_tokenizer, pubmedqa_items, pubmedqa_name, qa_stats, table_rows


def qa_page(paths: list[Path], tokenizer: str | None = None) -> Page:
    tok = make_tokenizer(tokenizer)
    stats, skipped = [], {}
    for path in paths:
        items, malformed = pubmedqa_items(path)
        skipped[path] = malformed
        stats.append(qa_stats(pubmedqa_name(path), items, tok))
    page = Page(
        title="PubMedQA statistics",
        kind="question-answering data",
        path=", ".join(str(p) for p in paths),
        summary=", ".join(f"{s.name}: {s.pairs:,} QA pairs" for s in stats) + f". Lengths in {tok.name}.",
    )
    page.cards = [(s.name, f"{s.pairs:,}", "QA pairs") for s in stats]
    header, rows = table_rows(stats, with_paper=True)
    sec = page.section(
        "table5",
        "Table 5: the detailed information of the dataset",
        f"Measured from the files; '(paper)' columns are AntGLM-Med's Table 5. Lengths in {tok.name}.",
    )
    sec.add(table(header, rows, "qa-stats"))
    for path, n in skipped.items():
        if n:
            sec.add(note(f"{path}: {n} malformed items skipped (see `corpusforge label` for where they are)."))
    for s in stats:
        if s.answers:
            sec.add(chart(f"answers-{s.name}", charts.svg(charts.bars(s.answers, f"{s.name}: answers (%)", "%"))))
    return page
