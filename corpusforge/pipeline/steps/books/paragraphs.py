"""Paragraphs and hyphenation: step 6 of `books.strip_nontext`.

Hard-wrapped lines are joined (no space between CJK characters); a blank line, a heading, a list item or an
indented line after a finished sentence starts a new one. Hyphenation at line ends is repaired: `treat-\\nment` ->
`treatment`. The hyphen is kept when the book itself writes the hyphenated form elsewhere, when the right part
starts with a capital or digit, when the left part is an acronym or a prefix that is normally hyphenated (Greek
letters, self-, non-, ...); otherwise, and always when the book writes the joined word elsewhere, the parts are
joined.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from corpusforge.pipeline.steps.books.headings import ends_sentence, heading_level, starts_block
from corpusforge.pipeline.steps.books.text import CJK_RE, SECTION_BREAK

LIST_ITEM_RE = re.compile(
    r"^\s*(?:[-*+•·▪◦]|\d{1,3}[.)]|[a-z][.)]|\(\d{1,3}\)|[（(][一二三四五六七八九十\d]{1,3}[)）])\s+\S"
)
KEEP_HYPHEN_PREFIXES = {
    "alpha", "beta", "gamma", "delta", "epsilon", "kappa", "lambda", "theta", "sigma", "omega", "mu", "tau",
    "self", "non", "ex", "all", "half", "cross", "well", "ill", "long", "short", "high", "low", "co",
}  # fmt: skip
HYPHEN_END_RE = re.compile(r"([A-Za-z]+)[-\u00ad]$")
WORD_START_RE = re.compile(r"^([A-Za-z]+)")


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
    """Join hard-wrapped lines into paragraphs; headings and list items stay on lines of their own; a
    SECTION_BREAK line (a removed part) stays a paragraph of its own (never first, never two in a row)."""
    lex = Lexicon.of(lines)
    paragraphs: list[str] = []
    current: list[str] = []  # logical lines of the current paragraph (list items are separate lines)

    def flush() -> None:
        if current:
            paragraphs.append("\n".join(current))
            current.clear()

    for i, raw in enumerate(lines):
        if raw == SECTION_BREAK:  # a removed part: kept as a paragraph of its own, strip.py makes it a wider gap
            flush()
            if paragraphs and paragraphs[-1] != SECTION_BREAK:
                paragraphs.append(SECTION_BREAK)
            continue
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
