"""What every part of the book steps shares: line endings, the removal counts, the section break, the CJK class."""

from __future__ import annotations

import re
from collections import Counter

NEWLINE_RE = re.compile(r"\r*\n|\r")
# a line put where a part of the book was removed (a transcriber's block, back matter): the cleaned book keeps it as
# a wider gap (two blank lines) between paragraphs, and `books.chunk` ends a chunk and its section label there
SECTION_BREAK = "\x1d"


def normalize_newlines(text: str) -> str:
    """Every line ending convention (LF, CR LF, CR CR LF, CR) as LF. `\\r\\r` without LF stays a blank line."""
    if "\r" not in text:
        return text
    if "\n" in text:  # CR CR LF / CR LF: the CRs before a LF belong to that line ending
        text = re.sub(r"\r+\n", "\n", text)
    return text.replace("\r", "\n")


def removed(stats: Counter, kind: str, lines: list[str] | str, times: int = 1) -> None:
    """Count one removal of `kind`: once, and by its characters (each line with its line break)."""
    chars = len(lines) if isinstance(lines, str) else sum(len(line) + 1 for line in lines)
    stats[f"stripped_{kind}"] += times
    stats[f"chars_stripped_{kind}"] += chars


CJK_RE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
