"""Tables and captions: steps 2 and 3 of `books.strip_nontext`.

2. Tables: a run of consecutive table-ish lines - Markdown/ASCII pipe rows (>= 2 `|`, `│`, `║`), border/rule lines
   (`+----+`, `|---|:--|`, box drawing), tab-separated or >= 3-space-aligned columns - with at least two rows (or a
   row and a rule). HTML `<table>` elements and Markdown image lines go too.
3. Captions: a line that starts a block and reads `Figure 3.2 ...`, `Fig. 4: ...`, `Table 1. ...` (a label, a
   number, then punctuation or a capitalised word; `Table 2 shows ...` is prose and stays) or `图 3-2 ...`/`表1 ...`,
   plus at most two wrapped continuation lines while the caption has not ended with a full stop.
"""

from __future__ import annotations

import re
from collections import Counter

from corpusforge.pipeline.steps.books.headings import ends_sentence, heading_level, starts_block
from corpusforge.pipeline.steps.books.text import removed

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
