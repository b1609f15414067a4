"""Transcription markup of published plain-text books, Project Gutenberg's above all, found and removed by kind.

Used by `books.strip_nontext` before its layout heuristics. Every function takes the book's lines and a
`Counter`, removes one kind of non-text and counts it twice: how many times (`stripped_<kind>`) and how many
characters (`chars_stripped_<kind>`), so a build can say what was taken out of a book and how much.

- Line endings (`normalize_newlines`, in text.py): CR CR LF (as Gutenberg ships many books), CR LF and lone CR
  all become LF, before anything else, so a wrapped line is never taken for a paragraph of its own.
- Gutenberg licence (`strip_gutenberg`): everything before the `*** START OF THE/THIS PROJECT GUTENBERG EBOOK`
  line, everything from the `End of (the) Project Gutenberg...` / `*** END OF ...` line on (the full licence), and
  the `Produced by ...` / `E-text prepared by ...` credit just after the start. Each cut needs its marker (start
  in the first half, end in the second half of the book); a missing one leaves that side alone and is counted
  (`gutenberg_markers_missing`): a guess at where a licence ends could remove the book. The
  `_italic_` / `=bold=` marks of Gutenberg texts go too (the words stay), and a section title set as a line of
  capitals between blank lines becomes a `##` heading (counted as `headings_marked`).
- Bracketed markup (`strip_bracketed_markup`): `[Illustration...]`, `[Footnote...]`, `[Sidenote...]`,
  `[Transcriber's Note...]`, `[Blank Page]`, matched to their closing bracket across lines; bracketed running heads
  and page references on a line of their own (`[RESPIRATORY DISEASES 7]`, `[Pg 12]`, `{12}`) and inline page
  references (`[Pg 12]`). A paragraph that a running head split in two is joined again.
- Transcriber's blocks between an opening and a closing line (`[Transcriber's Notes]` ... `[End Transcriber's
  Notes]`, `TRANSCRIBER'S NOTE` ... `END OF TRANSCRIBER'S NOTE`), whatever they hold (a whole modern dictionary
  added by a transcriber, signed), and notes drawn in a box of rule lines (`+-----+` / `| Transcriber's Note: |`);
  an opening line without its closing one is counted (`unclosed_transcriber_block`) and left to the rules below.
- Transcriber's notes written as a heading and a block (`TRANSCRIBER'S NOTES` then its lines).
- Numbered footnotes (`strip_numbered_footnotes`): a body is a block that starts with `(6)`, `[6]`, `(*)` where
  the same marker was glued to the text earlier (`the King.(6)`, `Neuburger,(16)`); an indented body runs on over
  indented and blank lines (Osler's footnotes quote whole poems). The markers in the text go too; `(1)` starting
  an ordinary numbered list, with no glued marker before it, stays.
"""

from __future__ import annotations

import re
from collections import Counter

# the same sentence test the paragraphs use, the same heading rules the chunker uses
from corpusforge.pipeline.steps.books.headings import ends_sentence, heading_level
from corpusforge.pipeline.steps.books.text import SECTION_BREAK, removed

# ---------------------------------------------------------------------------------------------------------------
# Project Gutenberg licence header and footer, credits
# ---------------------------------------------------------------------------------------------------------------
PG_START_RE = re.compile(
    r"^\W*(?:START OF (?:THE|THIS) PROJECT GUTENBERG E-?(?:BOOK|TEXT)|END\W*THE SMALL PRINT)", re.IGNORECASE
)
PG_END_RE = re.compile(r"^\W*END OF (?:THE|THIS) PROJECT GUTENBERG E-?(?:BOOK|TEXT)", re.IGNORECASE)
PG_END_LINE_RE = re.compile(r"^\W*End of (?:the )?Project Gutenberg(?:'s|’s)?\b", re.IGNORECASE)
PG_MENTION_RE = re.compile(r"Project\s+Gutenberg", re.IGNORECASE)
CREDIT_RE = re.compile(
    r"^\s*(?:Produced by|E-?text (?:was )?(?:prepared|produced) by|Prepared by|Transcribed (?:from|by)"
    r"|This (?:e-?text|e-?book|file) was (?:produced|prepared|transcribed|created)|Scanned by|Proofread by)\b",
    re.IGNORECASE,
)
CREDIT_SCAN_LINES = 80  # non-blank lines after the start marker searched for a credit


def looks_like_gutenberg(text: str) -> bool:
    head, tail = text[:20_000], text[-40_000:]
    return bool(PG_MENTION_RE.search(head) or PG_MENTION_RE.search(tail))


def strip_gutenberg(lines: list[str], stats: Counter) -> list[str]:
    """Cut the licence header and footer at their markers and drop the production credit (see module docstring).

    The start marker is looked for in the first half of the book and the end marker in the second half, so a marker
    can never take the body with it; each cut needs its own marker (`gutenberg_markers_missing` counts a missing
    one, and that side is left alone)."""
    half = len(lines) // 2
    start = next((i for i in range(half + 1) if PG_START_RE.match(lines[i])), None)
    low = max(half, (start or 0) + 1)
    end = next((i for i in range(len(lines) - 1, low - 1, -1) if PG_END_RE.match(lines[i])), None)
    if end is not None:
        # the `End of the Project Gutenberg EBook of ...` line usually stands a few lines above the marker
        end = next((i for i in range(end - 1, max(low, end - 12) - 1, -1) if PG_END_LINE_RE.match(lines[i])), end)
    else:
        end = next((i for i in range(len(lines) - 1, low - 1, -1) if PG_END_LINE_RE.match(lines[i])), None)
    if start is None or end is None:
        stats["gutenberg_markers_missing"] += 1
    body_start = 0 if start is None else start + 1
    body_end = len(lines) if end is None else end
    if start is not None:
        removed(stats, "gutenberg_header", lines[:body_start])
    if end is not None:
        removed(stats, "gutenberg_footer", lines[body_end:])
    return strip_credits(lines[body_start:body_end], stats)


def strip_credits(lines: list[str], stats: Counter) -> list[str]:
    """The `Produced by ...` block (up to its blank line) among the first lines of the book."""
    seen = 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        seen += 1
        if seen > CREDIT_SCAN_LINES:
            break
        if CREDIT_RE.match(line):
            j = i
            while j < len(lines) and lines[j].strip():
                j += 1
            removed(stats, "credits", lines[i:j])
            return lines[:i] + lines[j:]
    return lines


# ---------------------------------------------------------------------------------------------------------------
# Bracketed markup, running heads, page references, transcriber's notes
# ---------------------------------------------------------------------------------------------------------------
MARKUP_KINDS = {
    "illustration": "illustrations",
    "footnote": "footnotes",
    "note": "footnotes",
    "sidenote": "sidenotes",
    "transcriber": "transcriber_notes",
    "blank page": "page_numbers",
}
MARKUP_OPEN_RE = re.compile(
    r"\[\s*(illustration|footnote|note\s+\w{1,4}\s*:|sidenote|transcriber[’']?s?\s+notes?|blank page)", re.IGNORECASE
)
FOOTNOTE_ID_RE = re.compile(r"\[\s*(?:footnote|note)\s+([\w*]{1,4})\s*:", re.IGNORECASE)
INLINE_NOTE_MARKER_RE = re.compile(r"(?<=\S)\[([\w*]{1,4})\]")
MAX_MARKUP_CHARS = 20_000  # an opening bracket without its closing one within this many characters is left alone
PAGE_REF = r"(?:(?:Pg|Page|p)\.?\s*)?(?:\d{1,4}|[ivxlcdm]{1,7})"
PAGE_REF_LINE_RE = re.compile(rf"^\s*(?:\[\s*{PAGE_REF}\s*\]|\{{\s*{PAGE_REF}\s*\}})\s*$", re.IGNORECASE)
INLINE_PAGE_REF_RE = re.compile(r"\s?[\[{]\s*(?:Pg|Page|p\.)\s*\d{1,4}\s*[\]}]", re.IGNORECASE)
# a line that is only a bracket of capitals, digits and punctuation: `[RESPIRATORY DISEASES 7]`, `[8 DISEASES]`
RUNNING_HEAD_RE = re.compile(r"^\s*\[\s*(?=[^\]]*[A-Z]{2})[^\]\[a-z]{2,100}\]\s*$")
# `TRANSCRIBER'S NOTES` on its own, or opening a paragraph: `Transcriber’s Notes: Italic text is ...`
TN_HEADING_RE = re.compile(
    r"^\s*(?:transcriber[’']?s?\s+notes?\s*(?:[:.]|$)|(?:editor[’']?s?)\s+notes?\s*[:.]?\s*$)", re.IGNORECASE
)


def _markup_end(text: str, start: int) -> int | None:
    """Index just past the bracket closing the one at `start` (nesting counted), or None."""
    depth = 0
    limit = min(len(text), start + MAX_MARKUP_CHARS)
    for i in range(start, limit):
        c = text[i]
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def strip_bracketed_markup(text: str, stats: Counter) -> str:
    """Remove `[Illustration...]`, `[Footnote...]`, ... with whatever they span; a markup alone on its lines takes
    the lines with it."""
    out: list[str] = []
    pos = 0
    note_ids: set[str] = set()
    for m in MARKUP_OPEN_RE.finditer(text):
        if m.start() < pos:
            continue  # inside markup already removed (a footnote inside an illustration)
        end = _markup_end(text, m.start())
        if end is None:
            stats["unclosed_markup"] += 1
            continue
        word = m.group(1).lower()
        kind = next((v for k, v in MARKUP_KINDS.items() if word.startswith(k)), "footnotes")
        line_start = text.rfind("\n", 0, m.start()) + 1
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end
        start = m.start()
        if not text[line_start:start].strip() and not text[end:line_end].strip():  # whole lines
            start, end = line_start, min(len(text), line_end + 1)
        out.append(text[pos:start])
        removed(stats, kind, text[start:end])
        if kind == "footnotes" and (note := FOOTNOTE_ID_RE.match(text, m.start())):
            note_ids.add(note.group(1))
        pos = end
    out.append(text[pos:])
    text = "".join(out)
    if note_ids:  # the markers of the removed `[Footnote 1: ...]` bodies: `young.[1]`, `word[A]`

        def marker(m: re.Match) -> str:
            if m.group(1) not in note_ids:
                return m.group(0)
            removed(stats, "footnote_markers", m.group(0))
            return ""

        text = INLINE_NOTE_MARKER_RE.sub(marker, text)
    return text


def strip_page_references(lines: list[str], stats: Counter) -> list[str]:
    """Bracketed running heads and page references on lines of their own, and inline `[Pg 12]`; a paragraph a
    removed line had cut in two is joined again."""
    out: list[str] = []
    for line in lines:
        kind = None
        if PAGE_REF_LINE_RE.match(line):
            kind = "page_numbers"
        elif RUNNING_HEAD_RE.match(line):
            kind = "running_heads"
        if kind is None:
            new, n = INLINE_PAGE_REF_RE.subn("", line)
            if n:
                removed(stats, "page_numbers", "x" * (len(line) - len(new)), times=n)
            out.append(new)
            continue
        removed(stats, kind, [line])
        out.append("\x00")  # a placeholder: the next line decides whether the blank lines around it go
    return _resolve_placeholders(out)


def _resolve_placeholders(lines: list[str]) -> list[str]:
    """Drop each placeholder; when the text before it does not end a sentence and the text after it starts in
    lower case, also drop the blank lines around it, so the paragraph is whole again."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i] != "\x00":
            out.append(lines[i])
            i += 1
            continue
        j = i
        while j < len(lines) and (lines[j] == "\x00" or not lines[j].strip()):
            j += 1
        k = len(out)
        while k > 0 and not out[k - 1].strip():
            k -= 1
        before = out[k - 1] if k else ""
        after = lines[j] if j < len(lines) else ""
        if before.strip() and after.strip() and not ends_sentence(before) and after.strip()[0].islower():
            del out[k:]  # the paragraph continues: no blank line between its halves
        else:
            out.extend(line for line in lines[i:j] if line != "\x00")
        i = j
    return out


TN_WORDS = r"(?:transcriber[’']?s?|transcription|editor[’']?s?|e-?text)\s+notes?"
TN_BLOCK_OPEN_RE = re.compile(rf"^\s*[\[(]?\s*{TN_WORDS}\s*[:.]?\s*[\])]?\s*$", re.IGNORECASE)
TN_BLOCK_CLOSE_RE = re.compile(
    rf"^\s*[\[(]?\s*end\s+(?:of\s+(?:the\s+)?)?{TN_WORDS}\s*\.?\s*[\])]?\s*$", re.IGNORECASE
)


RULE_LINE_RE = re.compile(r"^\s*\+?[-=*_~]{10,}\+?\s*$")  # the top and bottom of a boxed note
TN_MENTION_RE = re.compile(rf"{TN_WORDS}", re.IGNORECASE)
BOX_MAX_LINES = 200


def boxed_note_end(lines: list[str], i: int) -> int | None:
    """Index just past a transcriber's note drawn in a box (a rule line, `| Transcriber's Note: ... |` within its
    first three lines of text, a closing rule line), or None."""
    if not RULE_LINE_RE.match(lines[i]):
        return None
    head = [line for line in lines[i + 1 : i + 8] if line.strip(" |")][:3]
    if not any(TN_MENTION_RE.search(line) for line in head):
        return None
    end = next((j for j in range(i + 1, min(len(lines), i + BOX_MAX_LINES)) if RULE_LINE_RE.match(lines[j])), None)
    return None if end is None else end + 1


def strip_transcriber_blocks(lines: list[str], stats: Counter) -> list[str]:
    """`[Transcriber's Notes]` ... `[End Transcriber's Notes]`: everything between the two lines, both included;
    and a transcriber's note drawn in a box of rule lines. The closing line is what makes a block: without it
    nothing is removed here (`unclosed_transcriber_block`)."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if (box_end := boxed_note_end(lines, i)) is not None:
            removed(stats, "transcriber_notes", lines[i:box_end])
            out.append(SECTION_BREAK)
            i = box_end
            continue
        if not TN_BLOCK_OPEN_RE.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if TN_BLOCK_CLOSE_RE.match(lines[j])), None)
        if end is None:
            stats["unclosed_transcriber_block"] += 1
            out.append(lines[i])
            i += 1
            continue
        removed(stats, "transcriber_notes", lines[i : end + 1])
        out.append(SECTION_BREAK)
        i = end + 1
    return out


def strip_transcriber_notes(lines: list[str], stats: Counter) -> list[str]:
    """`TRANSCRIBER'S NOTES` on a line of its own and the block(s) under it (after any blank lines), up to the next
    blank-line gap of two or more lines (a transcriber's note is a list of short items, sometimes one per paragraph)."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not TN_HEADING_RE.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():  # the blank lines between the heading and its block
            j += 1
        while j < len(lines):
            if not lines[j].strip():
                gap = j
                while gap < len(lines) and not lines[gap].strip():
                    gap += 1
                if gap - j >= 2 or gap == len(lines):
                    break
                j = gap
                continue
            j += 1
        removed(stats, "transcriber_notes", lines[i:j])
        i = j
    return out


# ---------------------------------------------------------------------------------------------------------------
# Numbered footnotes: `(6)` / `[6]` / `(*)` bodies whose marker is glued to the text before them
# ---------------------------------------------------------------------------------------------------------------
MARK = r"(?:\d{1,3}[a-z]?|\*{1,4}|[A-Z])"
GLUED_MARKER_RE = re.compile(rf"(?<=[\w.,;:!?\"'’”)\]\-])(\({MARK}\)|\[{MARK}\])")
BODY_START_RE = re.compile(rf"^(\s*)(\({MARK}\)|\[{MARK}\])\s+\S")


def footnote_body_end(lines: list[str], i: int, indented: bool) -> int:
    """End of the footnote body starting at line i: the blank line (unindented), or the first unindented line
    (indented bodies may hold blank lines and verse); never past the next footnote's start."""
    j = i + 1
    while j < len(lines):
        nxt = lines[j]
        if BODY_START_RE.match(nxt) and (not indented or nxt[:1].isspace()):
            break
        if indented:
            if nxt.strip() and not nxt[:1].isspace():
                break
        elif not nxt.strip():
            break
        j += 1
    while j > i + 1 and not lines[j - 1].strip():
        j -= 1
    return j


def strip_numbered_footnotes(lines: list[str], stats: Counter) -> list[str]:
    """Footnote bodies and their markers (see module docstring). Bodies come in groups (the notes of a page or a
    chapter, separated by blank lines only); a group is footnotes when any of its markers is glued to the text
    somewhere in the book, which also catches a note whose marker the book misprints."""
    glued = {m for line in lines for m in GLUED_MARKER_RE.findall(line)}
    if not glued:
        return lines
    bodies: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        m = BODY_START_RE.match(lines[i])
        if not m or (i and lines[i - 1].strip()):
            i += 1
            continue
        group: list[tuple[int, int, str]] = []
        j = i
        while True:
            m = BODY_START_RE.match(lines[j]) if j < len(lines) else None
            if m is None or (j and lines[j - 1].strip() and not group):
                break
            end = footnote_body_end(lines, j, bool(m.group(1)))
            group.append((j, end, m.group(2)))
            j = end
            while j < len(lines) and not lines[j].strip():
                j += 1
        if any(marker in glued for _, _, marker in group):
            bodies += [(s, e) for s, e, _ in group]
            i = group[-1][1]
        else:
            i += 1
    if not bodies:
        return lines
    markers = set()
    out: list[str] = []
    prev = 0
    for start, end in bodies:
        out.extend(lines[prev:start])
        markers.add(BODY_START_RE.match(lines[start]).group(2))  # type: ignore[union-attr]
        removed(stats, "footnotes", lines[start:end])
        prev = end
    out.extend(lines[prev:])
    result = []
    for line in out:
        n = 0

        def drop(m: re.Match) -> str:
            nonlocal n
            if m.group(1) in markers:
                n += 1
                return ""
            return m.group(1)

        new = GLUED_MARKER_RE.sub(drop, line)
        if n:
            removed(stats, "footnote_markers", "x" * (len(line) - len(new)), times=n)
        result.append(new)
    return result


EMPHASIS_RE = re.compile(
    r"(?<![\w_=])([_=])(?=[^\s_=])([^_=\n]{1,200}(?:\n[^_=\n]{1,200}){0,3})(?<=[^\s_=])\1(?![\w_=])"
)


def strip_emphasis_marks(text: str, stats: Counter) -> str:
    """Gutenberg's `_italic_` underscores and `=bold=` equals signs (the words stay)."""

    def plain(m: re.Match) -> str:
        removed(stats, "emphasis_marks", "__")
        return m.group(2)

    return EMPHASIS_RE.sub(plain, text)


CAPS_HEADING_RE = re.compile(r"^[^a-z]*[A-Z]{2}[^a-z]*$")


def mark_caps_headings(lines: list[str], stats: Counter) -> list[str]:
    """Gutenberg sets section titles as a line of capitals with two or more blank lines before it and one after
    (`EGYPTIAN MEDICINE`): such a line becomes a Markdown `##` heading, so chunks start at sections and carry them.
    Named chapters (`CHAPTER I -- ...`) are headings already and stay as they are."""
    out = list(lines)
    for i, line in enumerate(lines):
        text = line.strip()
        if not text or len(text) > 80 or text[-1] in ".,;:" or not CAPS_HEADING_RE.match(text):
            continue
        if i < 2 or lines[i - 1].strip() or lines[i - 2].strip() or i + 1 >= len(lines) or lines[i + 1].strip():
            continue
        if heading_level(text) is not None:
            continue
        out[i] = f"## {text}"
        stats["headings_marked"] += 1
        stats["chars_added_heading_marks"] += 3
    return out


def strip_markup(text: str, stats: Counter, gutenberg: bool | None) -> list[str]:
    """All of the above in order, on a book with normalized line endings -> its lines."""
    if gutenberg is None:
        gutenberg = looks_like_gutenberg(text)
    lines = text.split("\n")
    if gutenberg:
        lines = strip_gutenberg(lines, stats)
        text = strip_emphasis_marks("\n".join(lines), stats)
    text = "\n".join(strip_transcriber_blocks(text.split("\n"), stats))
    text = strip_bracketed_markup(text, stats)
    lines = text.split("\n")
    lines = strip_transcriber_notes(lines, stats)
    lines = strip_page_references(lines, stats)
    lines = strip_numbered_footnotes(lines, stats)
    return mark_caps_headings(lines, stats) if gutenberg else lines
