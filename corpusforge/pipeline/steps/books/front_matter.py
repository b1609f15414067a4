"""Title pages: the short centred lines a printed book opens with (and each of the books bound in one volume), run
by `books.strip_nontext` right after the transcription markup.

A title page is a run of blocks of short lines - title, subtitle, `By T. J. RITTER, M. D.`, `ILLUSTRATED`,
`COPYRIGHT, 1910, BY ...`, a publisher and city - with no prose in it. It is only taken for one when it carries a
title-page cue (a `by` line, a copyright or rights line, a publisher, an edition, an author's degree, a year), and
it is looked for in two places: at the start of the book, and around a `COPYRIGHT` line anywhere (a second book
in the same volume). The run ends at the first block of prose; a single line right before that prose is the prose's
own heading and stays. Removed as kind `title_page`, leaving a section break.
"""

from __future__ import annotations

import re
from collections import Counter

from corpusforge.pipeline.steps.books.back_matter import back_matter_kind, blocks
from corpusforge.pipeline.steps.books.headings import is_named_chapter
from corpusforge.pipeline.steps.books.text import SECTION_BREAK, removed

TITLE_CUE_RE = re.compile(
    r"^\s*(?:by|edited\s+by|compiled\s+by|with)\s+\S|\bcopyright\b|\brights\s+reserved\b|\bpublish(?:ed|ers?)\b"
    r"|\bprinted\s+(?:by|in|for)\b|\b(?:illustrated|edition|press|company|co\.)\b|\bauthor\s+of\b"
    r"|\b(?:M\.\s?D|Ph\.\s?D|LL\.\s?D|A\.\s?M|M\.\s?A|F\.\s?R\.\s?C\.\s?[PS])\b|\b(?:1[5-9]\d\d|20\d\d)\b",
    re.IGNORECASE,
)
# a copyright notice, not a mention: `COPYRIGHT, 1910, BY ...`, `Copyright by ...`, `© 1910`
COPYRIGHT_RE = re.compile(
    r"\bcopyright(?:ed)?\b[\s,.]*(?:(?:in\s+)?(?:1[5-9]|20)\d\d|by\b|©)|©\s*(?:1[5-9]|20)\d\d", re.IGNORECASE
)
FRONT_HEADING_RE = re.compile(r"^\W*(?:preface|introduction|foreword|dedication|prefatory)\b", re.IGNORECASE)
MAX_TITLE_LINES = 40  # non-blank lines a title page may have
MAX_LINE = 72  # a line of a one-line block may be this long
MAX_BLOCK_LINE = 60  # every line of a longer block no longer than this


def title_like(block: list[str]) -> bool:
    """Short lines only, and no heading that opens the book's own parts (contents, preface, a chapter)."""
    if len(block) > 12:
        return False
    limit = MAX_LINE if len(block) == 1 else MAX_BLOCK_LINE
    if any(len(line.strip()) > limit for line in block):
        return False
    first = block[0].strip()
    return not (back_matter_kind(first) or FRONT_HEADING_RE.match(first) or is_named_chapter(first))


def title_page_span(spans: list[tuple[int, int]], lines: list[str], first: int, last: int) -> tuple[int, int] | None:
    """Blocks first..last as a title page, less a closing one-line heading of the prose that follows; or None
    when it has no title-page cue or is too long."""
    if last > first and spans[last][1] - spans[last][0] == 1 and prose_follows(spans, lines, last):
        last -= 1  # `THE SILLIMAN FOUNDATION` just before its prose is that prose's heading
    start, end = spans[first][0], spans[last][1]
    filled = [line for line in lines[start:end] if line.strip()]
    if len(filled) > MAX_TITLE_LINES or not any(TITLE_CUE_RE.search(line) for line in filled):
        return None
    return start, end


def prose_follows(spans: list[tuple[int, int]], lines: list[str], b: int) -> bool:
    """The block after block b is text (it has a line too long for a title page), not a heading like CONTENTS."""
    if b + 1 >= len(spans):
        return False
    s, e = spans[b + 1]
    return any(len(line.strip()) > MAX_BLOCK_LINE for line in lines[s:e])


def strip_title_pages(lines: list[str], stats: Counter) -> list[str]:
    """Remove the title page at the start of the book and any title page around a COPYRIGHT line (see module)."""
    spans = list(blocks(lines))
    like = [title_like(lines[s:e]) for s, e in spans]
    found: list[tuple[int, int]] = []
    if like and like[0]:
        last = 0
        while last + 1 < len(spans) and like[last + 1]:
            last += 1
        if last + 1 < len(spans) and (span := title_page_span(spans, lines, 0, last)):  # prose must follow
            found.append(span)
    for b, (s, e) in enumerate(spans):
        if not like[b] or not any(COPYRIGHT_RE.search(line) for line in lines[s:e]):
            continue
        if found and found[-1][1] >= e:
            continue
        first = b
        while first > 0 and like[first - 1] and spans[first - 1][0] >= (found[-1][1] if found else 0):
            first -= 1
        last = b
        while last + 1 < len(spans) and like[last + 1]:
            last += 1
        if span := title_page_span(spans, lines, first, last):
            found.append(span)
    if not found:
        return lines
    out: list[str] = []
    prev = 0
    for start, end in found:
        out.extend(lines[prev:start])
        removed(stats, "title_page", lines[start:end])
        out.append(SECTION_BREAK)
        prev = end
    out.extend(lines[prev:])
    return out
