"""Headings and block starts: the rules every part of the book steps uses to tell a heading and a new block.

Step 7 of `books.strip_nontext`: headings are kept, each as a paragraph of its own: Markdown `#` headings,
`Chapter 3 ...`, `Part II ...`, numbered sections `3.2 Insulin` (two or more number parts; a capitalised title; no
trailing full stop), `第三章 ...`, `第二节 ...`, `一、...`. A plain-text heading must start a block (after a blank line
or a finished sentence), so a wrapped line that happens to begin with `3.2 mg` is not taken for one. `books.chunk`
starts its chunks and takes their section path from the same headings.
"""

from __future__ import annotations

import re

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
