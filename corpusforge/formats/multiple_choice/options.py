"""Options as sources write them (an object of letter -> text, a list of texts or of {key, value} objects, or one
packed "A xxx\\nB xxx" text) -> (key, text) pairs."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from corpusforge.formats.multiple_choice.fields import is_missing
from corpusforge.formats.multiple_choice.question import KEYS, MalformedQuestion


def keyed_options(texts: Iterable[Any], key: str) -> list[tuple[str, str]]:
    """Option texts in order -> [("A", text), ("B", text), ...]; blank options are an error."""
    options = []
    for i, text in enumerate(texts):
        if is_missing(text) or not str(text).strip():
            raise MalformedQuestion(key, f"option {KEYS[i]} is empty")
        options.append((KEYS[i], str(text).strip()))
    return options


def options_from_mapping(value: Any, key: str) -> list[tuple[str, str]]:
    """{"A": text, "B": text} (any letter case) -> sorted (key, text) pairs."""
    if not isinstance(value, Mapping):
        raise MalformedQuestion(key, f"expected an object of letter -> text, got {type(value).__name__}")
    options = []
    for k, text in value.items():
        letter = str(k).strip().upper()
        if len(letter) != 1 or letter not in KEYS:
            raise MalformedQuestion(key, f"option key {k!r} is not a letter")
        if is_missing(text) or not str(text).strip():
            raise MalformedQuestion(key, f"option {letter} is empty")
        options.append((letter, str(text).strip()))
    options.sort()
    return options


# "A xxx", "A.xxx", "A. xxx", "A、xxx", "A：xxx", "(A) xxx", "A)xxx"
_OPTION_LINE_RE = re.compile(r"^\s*[\(（]?([A-Z])(?:[\)）][\s\.．、:：]*|[\.．、:：]\s*|\s+)(.*)$")
# lowercase letters only with punctuation ("a) x", "(b) y", "c. z"): "a patient" is a word, not option A
_LOWER_OPTION_LINE_RE = re.compile(r"^\s*[\(（]?([a-z])(?:[\)）][\s\.．、:：]*|[\.．、:：]\s*)(.*)$")
# an option marker inside one line: "A. x B. y", "(A) x (B) y", "A) x B) y" (a bare "B x" is too ambiguous here)
_INLINE_MARK_RE = re.compile(r"(?:^|(?<=\s))[\(（]?([A-Z])(?:[\)）]|[\.．、:：])\s*")
_LITERAL_NEWLINE = "\\n"


def _split_inline(line: str) -> list[list[str]] | None:
    """ "A. x B. y C. z" -> [["A", "x"], ["B", "y"], ["C", "z"]] when the markers run A, B, C... in order."""
    marks, want = [], 0
    for m in _INLINE_MARK_RE.finditer(line):
        if want < len(KEYS) and m.group(1) == KEYS[want]:
            marks.append(m)
            want += 1
    if len(marks) < 2 or marks[0].start() != len(line) - len(line.lstrip()):
        return None
    bounds = [m.end() for m in marks]
    starts = [m.start() for m in marks[1:]] + [len(line)]
    return [[m.group(1), line[b:e].strip()] for m, b, e in zip(marks, bounds, starts, strict=True)]


def parse_options_text(text: str, key: str = "Options") -> list[tuple[str, str]]:
    """Options packed in one string -> (key, text) pairs.

    Lines start with the option letter ("A 高血压", "A.xxx", "A、xxx", "(A) xxx", "A) xxx"); lines are separated by
    newlines, or by a literal backslash-n (two characters: CMExam's spreadsheet copy). A line that does not start
    with the next letter continues the previous option; letters must run A, B, C... One line holding every option
    ("A. x B. y C. z") is split at its in-order markers.
    """
    if "\n" not in text and "\r" not in text and _LITERAL_NEWLINE in text:
        text = text.replace("\\r\\n", "\n").replace(_LITERAL_NEWLINE, "\n")
    lines = [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip()]
    if len(lines) == 1:
        inline = _split_inline(lines[0])
        if inline:
            return _checked_options(inline, key)
    options: list[list[str]] = []
    lower = bool(lines) and not _OPTION_LINE_RE.match(lines[0]) and bool(_LOWER_OPTION_LINE_RE.match(lines[0]))
    line_re = _LOWER_OPTION_LINE_RE if lower else _OPTION_LINE_RE
    for line in lines:
        match = line_re.match(line)
        expected = KEYS[len(options)] if len(options) < len(KEYS) else None
        if match and match.group(1).upper() == expected:
            options.append([expected, match.group(2).strip()])
        elif options:
            options[-1][1] = f"{options[-1][1]} {line.strip()}".strip()
        else:
            raise MalformedQuestion(key, f"first line {line.strip()[:40]!r} does not start with option letter A")
    return _checked_options(options, key)


def _checked_options(options: list[list[str]], key: str) -> list[tuple[str, str]]:
    for letter, option in options:
        if not option:
            raise MalformedQuestion(key, f"option {letter} is empty")
    if len(options) < 2:
        raise MalformedQuestion(
            key, f"found {len(options)} option; expected one option per line (A ..., B ...), separated by newlines"
        )
    return [(k, t) for k, t in options]


_OPTION_KEY_FIELDS = ("key", "label", "letter", "id", "aid")
_OPTION_TEXT_FIELDS = ("value", "text", "option", "content", "atext", "choice")


def options_from_list(value: Sequence[Any], key: str) -> list[tuple[str, str]]:
    """A list of options: texts (["x", "y"]), texts with their letters (["A. x", "B. y"]), or objects
    ([{"key": "A", "value": "x"}], as the bigbio MedQA layout; also label/text, or one {"A": "x"} per item)."""
    items = list(value)
    if items and all(isinstance(i, Mapping) for i in items):
        pairs = {}
        for i, item in enumerate(items):
            k = next((item[f] for f in _OPTION_KEY_FIELDS if f in item), None)
            t = next((item[f] for f in _OPTION_TEXT_FIELDS if f in item), None)
            if k is None and t is None and len(item) == 1:
                ((k, t),) = item.items()
            if k is None or t is None:
                raise MalformedQuestion(key, f"option {i} has no key/value (or label/text) fields: {dict(item)}")
            pairs[k] = t
        if all(isinstance(k, int) or str(k).strip().isdigit() for k in pairs):  # HeadQA-style numbered options
            return keyed_options([pairs[k] for k in sorted(pairs, key=lambda k: int(k))], key)
        return options_from_mapping(pairs, key)
    texts = ["" if is_missing(t) else str(t) for t in items]
    prefixed = [_OPTION_LINE_RE.match(t) for t in texts]
    if len(texts) >= 2 and all(m and m.group(1) == KEYS[i] and m.group(2).strip() for i, m in enumerate(prefixed)):
        separated = all(re.match(r"^\s*[\(（]?[A-Z](?:[\)）]|[\.．、:：])", t) for t in texts)
        if separated:  # "A. x" / "(A) x": letters written into the texts (a bare "A x" may be a word, kept)
            texts = [m.group(2).strip() for m in prefixed]
    return keyed_options(texts, key)
