"""Back matter - references, appendices, indexes, contents, lists of illustrations: steps 4 and 5 of
`books.strip_nontext`. Each is its own counted kind, so a card tells a contents list from a back-of-book index.

4. Named back matter: a heading line (Markdown or a line of its own) naming references / bibliography / further
   reading / 参考文献, an appendix / 附录, an index / 索引 (`INDEX`, `GENERAL INDEX`, `Index to Recipes`, `MEDICAL
   INDEX INCLUDING PAGES 1 TO 682`), the contents / 目录, or a list of illustrations / plates / figures / maps
   removes that part: up to the next heading of the same or a higher level (Markdown), the next heading of any kind
   (references), the next chapter (appendix) or the end of the book; an index ends at its first block of lines
   that are not index entries; contents lists and lists of illustrations stop at the first line that is not an
   entry.
5. Unnamed back matter, per block of non-blank lines: a reference list (>= 2 entries starting `[n]`/`n.` and most
   lines carrying a year, `et al` or a DOI), an index (>= 3 lines, >= 70% like `insulin, 45, 67-69`; or an
   alphabetic run of >= 8 lines (>= 5 with commas, sub-entries or `see`) most ending in a page number, not in page order, `Zweiback Noodles 808`, and the smaller blocks and
   letter headings that continue it) or a table of contents (>= 2 lines, >= 70% ending in leader dots and a page
   number, not in alphabetical order).
A removed part leaves a SECTION_BREAK line, so what follows it does not carry the section label of what preceded.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from corpusforge.pipeline.steps.books.headings import (
    heading_level,
    heading_title,
    is_named_chapter,
    markdown_heading,
    starts_block,
)
from corpusforge.pipeline.steps.books.text import SECTION_BREAK, removed

_NUMBERING = r"(?:(?:\d+(?:\.\d+)*|[A-Z]|[IVX]+)[.)]?\s+)?"
BACK_MATTER_RE = {
    "references": re.compile(
        rf"^{_NUMBERING}(?i:references?(?:\s+list)?|bibliography|(?:further|suggested|recommended)\s+readings?"
        r"|literature\s+cited|works\s+cited|citations)\s*[:.]?$|^(?:参考文献|参考书目|推荐阅读|延伸阅读)\s*[:：]?$"
    ),
    "appendices": re.compile(
        r"^(?i:appendix|appendices|annex)(?:\s+[A-Z0-9IVX]+)?(?:\s*[:.\-–—]\s*.*|\s+[A-Z].*)?$|^附\s*录.{0,40}$"
    ),
    # up to three words before `index` (`GENERAL`, `MEDICAL`), and after it only `to/of/including/for ...`, so an
    # article on the `INDEX FINGER` is not one
    "indexes": re.compile(
        r"^(?i:(?:[\w’'-]+\s+){0,3}index(?:es)?(?:\s+(?:to|of|including|for|and)\b.{0,60})?)\s*[.:]?$"
        r"|^(?:名词|术语)?索\s*引\s*$"
    ),
    "toc": re.compile(r"^(?i:(?:table\s+of\s+)?contents|list\s+of\s+tables)\s*[.:]?$|^目\s*录\s*$"),
    "illustrations_list": re.compile(
        r"^(?i:(?:list\s+of\s+(?:the\s+)?|full[- ]page\s+|colou?red\s+)?(?:illustrations|figures|plates|maps"
        r"|engravings|portraits)(?:\s+and\s+\w+)?)\s*[.:]?$|^(?:插图|图片)目录\s*$"
    ),
}
ENTRY_LIST_KINDS = {"toc", "illustrations_list"}  # lists of entries under their heading (contents_end)
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
    if kind in ENTRY_LIST_KINDS:
        return contents_end(lines, start)
    if kind == "indexes":
        return index_end(lines, start)
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
        out.append(SECTION_BREAK)
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


LETTER_HEADING_RE = re.compile(r"^\s*[-—–_*=\s]*[A-Z][-—–_*=.\s]*$")  # `A`, `— B —`, `C.` between index groups


def index_like(block: list[str]) -> bool:
    """A block of index entries (most lines ending in page numbers, `see` references) or a letter heading."""
    return (len(block) == 1 and bool(LETTER_HEADING_RE.match(block[0]))) or looks_like_index(block)


def index_end(lines: list[str], start: int) -> int:
    """Index just past the index whose heading is at `start`: its blocks of entries (and the letter headings between
    them) run on until the first block that is not index entries - prose, a heading, the next part of the book."""
    end = start + 1
    for s, e in blocks(lines[start + 1 :]):
        s, e = s + start + 1, e + start + 1
        if not index_like(lines[s:e]):
            break
        end = e
    return end


SUB_ENTRY_RE = re.compile(r"^(?:\s|[-—–]{1,3}\s*)")  # `  Chronic 23`, `-- acute, 20`


def alphabetic(entries: list[str], min_share: float = 0.8) -> bool:
    """Entries in alphabetical order (by first letter; sub-entries, indented or after a dash, left out), as an index
    is sorted."""
    firsts = [
        m.group(0).casefold()
        for line in entries
        if not SUB_ENTRY_RE.match(line) and (m := re.search(r"[^\W\d_]", line))
    ]
    if len(firsts) < 2:
        return False
    ordered = sum(a <= b for a, b in zip(firsts, firsts[1:]))
    return ordered >= min_share * (len(firsts) - 1)


PAGE_AT_END_RE = re.compile(r"(\d{1,4})\s*[;,.]?\s*$")


INDEX_FEATURE_RE = re.compile(r",\s*\d{1,4}\s*[,;.]?\s*$|\d\s*,\s*\d|^\s+\S|\b_?see(?:\s+also)?_?\b", re.IGNORECASE)


def index_features(entries: list[str]) -> bool:
    """What an index has and a list of doses does not: a comma before the page, several pages, an indented
    sub-entry, a `see` reference."""
    return sum(bool(INDEX_FEATURE_RE.search(line)) for line in entries) >= 2


def pages_ascending(entries: list[str]) -> bool:
    """The page numbers at the ends of the lines never go down (a contents list; an index's jump about)."""
    pages = [int(m.group(1)) for line in entries if (m := PAGE_AT_END_RE.search(line))]
    return all(a <= b for a, b in zip(pages, pages[1:]))


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
    paged = sum(bool(INDEX_LINE_END_RE.search(line)) and len(line.strip()) <= 80 for line in block)
    enough = n >= 8 or (n >= 5 and index_features(block))
    if enough and paged >= 0.7 * n and alphabetic(block) and not pages_ascending(block):
        # `Zweiback Noodles 808`: an alphabetic run of entries is an index; a contents list runs in page order
        return "indexes"
    if n >= 2 and sum(bool(TOC_ENTRY_RE.search(line)) for line in block) >= 0.7 * n:
        return "toc"
    return None


def remove_unnamed_back_matter(lines: list[str], stats: Counter) -> list[str]:
    """Step 5. A block right after an index block that is index-like too (a short letter group, `A`) is the same
    index going on."""
    out = list(lines)
    previous = None
    for start, end in blocks(lines):
        block = lines[start:end]
        kind = unnamed_back_matter(block)
        if kind in (None, "toc") and previous == "indexes" and index_like(block):
            kind = "indexes"
        if kind and not any(heading_level(line) is not None and not TOC_ENTRY_RE.search(line) for line in block):
            removed(stats, kind, block)
            stats[f"stripped_{kind}_lines"] += end - start
            out[start:end] = [SECTION_BREAK if previous is None else ""] + [""] * (end - start - 1)
            previous = kind
        else:
            previous = None
    return out
