"""Pages, page numbers, running headers and footers: step 1 of `books.strip_nontext`.

A book is cut into pages at form feeds (`\\f`) and at page-marker lines (`--- page 12 ---`, `=== Page 12 ===`,
`[Page 12]`). On each page the first and last `edge_lines` non-empty lines are the edge zone.
- Page numbers: a line that is only a page number (`12`, `- 12 -`, `Page 12`, `12 / 300`, `xiv`, `第 12 页`) is
  removed wherever it stands.
- Running headers/footers: an edge-zone line whose text, with digits replaced by `#` and case folded, appears in
  the edge zone of at least `running_min_pages` pages is removed. A Markdown heading is never removed this way, and
  a plain-text heading (`Chapter 3 Diabetes`) keeps its first occurrence (the chapter title itself).
Pages are then joined; a paragraph cut by a page break is re-joined (the page's last line does not end a sentence).
"""

from __future__ import annotations

import re
from collections import Counter

from corpusforge.pipeline.steps.books.headings import (
    ends_sentence,
    heading_level,
    is_named_chapter,
    markdown_heading,
    plain_heading_level,
)
from corpusforge.pipeline.steps.books.text import removed

PAGE_MARKER_RE = re.compile(r"^\s*(?:[-=_*~]{2,}|\[)\s*(?i:page)\s+\d+\s*(?:[-=_*~]{2,}|\])\s*$")
PAGE_NUMBER_RE = re.compile(
    r"^\s*(?:(?i:page|p\.)\s*)?[-–—\[(|]?\s*(?:\d{1,4}|(?i:[ivxlcdm]{1,7}))\s*[-–—\])|]?\s*$"
    r"|^\s*(?i:page\s+)?\d{1,4}\s*(?:/|(?i:of))\s*\d{1,4}\s*$"
    r"|^\s*第\s*\d{1,4}\s*页(?:\s*/?\s*共\s*\d+\s*页)?\s*$"
)

PAGE_NUMBER_AT_EDGE_RE = re.compile(r"^\s*\d{1,4}(?:\s{2,}|\s*[|·•]\s*)\S|\S(?:\s{2,}|\s*[|·•]\s*)\d{1,4}\s*$")


def split_pages(lines: list[str]) -> list[list[str]]:
    """Cut a book's lines into pages at form feeds and page-marker lines (the markers themselves go)."""
    pages: list[list[str]] = [[]]
    for line in lines:
        if PAGE_MARKER_RE.match(line):
            pages.append([])
            continue
        parts = line.split("\f")
        pages[-1].append(parts[0])
        for part in parts[1:]:
            pages.append([part])
    return [p for p in pages if any(line.strip() for line in p)]


def running_key(line: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", line.strip())).casefold()


def edge_indexes(page: list[str], edge_lines: int) -> list[int]:
    filled = [i for i, line in enumerate(page) if line.strip()]
    return sorted(set(filled[:edge_lines] + filled[-edge_lines:]))


def strip_page_furniture(pages: list[list[str]], edge_lines: int, min_pages: int, stats: Counter) -> list[list[str]]:
    """Remove page numbers and running headers/footers (see the module docstring, step 1)."""
    page_count: Counter = Counter()
    for page in pages:
        page_count.update({running_key(page[i]) for i in edge_indexes(page, edge_lines)})
    running = {k for k, n in page_count.items() if n >= min_pages and k}
    seen_headings: set[str] = set()
    out = []
    for page in pages:
        edges = set(edge_indexes(page, edge_lines)) if len(pages) > 1 else set()
        kept = []
        for i, line in enumerate(page):
            if line.strip() and PAGE_NUMBER_RE.match(line):
                removed(stats, "page_numbers", [line])
                continue
            if i in edges and running_key(line) in running and markdown_heading(line) is None:
                title = " ".join(line.split())  # exact text: `Chapter 4 ...` is not a copy of `Chapter 3 ...`
                if (
                    plain_heading_level(line) is not None
                    and not PAGE_NUMBER_AT_EDGE_RE.search(line)
                    and title not in seen_headings
                ):
                    seen_headings.add(title)  # the chapter title itself; later copies are running headers
                else:
                    stats["stripped_running_lines"] += 1
                    stats["chars_stripped_running_lines"] += len(line) + 1
                    continue
            kept.append(line)
        out.append(kept)
    return out


def starts_chapter(line: str) -> bool:
    """A page that opens with a Markdown heading or a named chapter starts a new block, whatever came before."""
    return markdown_heading(line) is not None or is_named_chapter(line)


def join_pages(pages: list[list[str]]) -> list[str]:
    """Pages back into lines; a page that ends mid-sentence continues on the next page's first line."""
    lines: list[str] = []
    for page in pages:
        while page and not page[-1].strip():
            page = page[:-1]
        start = 0
        while start < len(page) and not page[start].strip():
            start += 1
        page = page[start:]
        if not page:
            continue
        if lines and (ends_sentence(lines[-1]) or heading_level(lines[-1]) is not None or starts_chapter(page[0])):
            lines.append("")
        lines.extend(page)
    return lines
