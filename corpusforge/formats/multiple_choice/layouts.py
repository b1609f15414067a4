"""Layouts: how a file writes its options and its answer.

Copies of one source disagree (MedQA's options as an object or a list of {key, value}; an answer as a letter,
"B. text" or an index), so a reader takes the layout from the recipe or detects it from a file's first rows
(`LayoutVote`), and `parse_options` / `parse_answer` read every row in it: a row written otherwise is a
`LayoutMismatch`, not silently read another way.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, Literal

from corpusforge.formats.multiple_choice.answer_keys import (
    LETTER_KEY_RE,
    index_key,
    loose_text,
    split_answer_letters,
    text_key,
)
from corpusforge.formats.multiple_choice.fields import is_missing, plain_value
from corpusforge.formats.multiple_choice.options import options_from_list, options_from_mapping, parse_options_text
from corpusforge.formats.multiple_choice.question import MalformedQuestion, MissingField, MultiAnswerQuestion

OptionsFormat = Literal["dict", "list", "text", "columns"]
AnswerFormat = Literal["letter", "index0", "index1", "text", "letter_text"]
OPTIONS_FORMATS: dict[str, str] = {
    "dict": 'an object {"A": text, ...}',
    "list": "a list of option texts (or of {key, value} objects)",
    "text": 'one text with one option per line ("A. x" lines, newlines or a literal backslash-n between them)',
    "columns": "one field per option",
}
ANSWER_FORMATS: dict[str, str] = {
    "letter": 'an option letter ("B"; several letters "ABD" make a multi-answer question)',
    "letter_text": 'an option letter and its text ("B. text")',
    "text": "the text of the answer option",
    "index0": "a 0-based option index (1 means B)",
    "index1": "a 1-based option index (2 means B)",
}
_ANSWER_PRIORITY = ("letter", "letter_text", "text", "index0", "index1")
_LETTERS_RE = re.compile(r"^\s*[\(（]?[A-Za-z][\)）]?[\.．、:：]?\s*$|^\s*[A-Z](?:\s*[,，、;；/]?\s*[A-Z])+\s*$")
_LETTER_TEXT_RE = re.compile(r"^\s*[\(（]?([A-Z])(?:[\)）][\s\.．、:：]*|[\.．、:：]\s*|\s+)(\S.*)$", re.S)


class LayoutMismatch(MalformedQuestion):
    """A row written differently from the layout its file was detected in (or the recipe pinned)."""


@dataclass(frozen=True)
class MCLayout:
    """How one file writes its options and answer; `how` says where that came from (for error messages)."""

    options: str | None = None
    answer: str | None = None
    how: str = "per row"

    def describe(self) -> str:
        parts = [f"options: {self.options}" if self.options else "", f"answer: {self.answer}" if self.answer else ""]
        return ", ".join(p for p in parts if p) + f" ({self.how})"


AUTO = MCLayout()


def options_format_of(value: Any) -> str | None:
    value = plain_value(value)
    if isinstance(value, Mapping):
        return "dict"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "text"
    return None


def answer_formats_of(value: Any, options: Sequence[tuple[str, str]]) -> list[str]:
    """Every answer layout `value` is written in (by its form), most specific first: "1" is an index in both
    bases; "B. Atropine" is letter_text; "Atropine" is text when an option reads so."""
    value = plain_value(value)
    if is_missing(value) or isinstance(value, bool):
        return []
    if isinstance(value, str):
        value = unicodedata.normalize("NFKC", value)  # full-width letters and digits ("Ｂ", "２")
    n = len(options)
    fits = []
    number = None
    if isinstance(value, (int, float)) and float(value).is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if isinstance(value, str) and value.strip():
        texts = {loose_text(t) for _, t in options}
        if _LETTERS_RE.match(value):
            fits.append("letter")
        match = _LETTER_TEXT_RE.match(value)
        if match and "letter" not in fits:
            punctuated = not value.lstrip().lstrip("(（")[1:2].isspace()
            rest = loose_text(match.group(2))
            same = dict(options).get(match.group(1)) is not None and loose_text(dict(options)[match.group(1)]) == rest
            if punctuated or same:
                fits.append("letter_text")
        if loose_text(value) in texts:
            fits.append("text")
    if number is not None:
        if 0 <= number < n:
            fits.append("index0")
        if 1 <= number <= n:
            fits.append("index1")
    return sorted(set(fits), key=_ANSWER_PRIORITY.index)


@dataclass
class LayoutVote:
    """Detects a file's layout from its first rows: the options and answer formats most rows are written in."""

    options: Counter = field(default_factory=Counter)
    answers: Counter = field(default_factory=Counter)
    rows: int = 0

    def add(self, options_value: Any, answer_value: Any, options: Sequence[tuple[str, str]] | None) -> None:
        self.rows += 1
        found = options_format_of(options_value)
        if found:
            self.options[found] += 1
        if options:
            for fmt in answer_formats_of(answer_value, options):
                self.answers[fmt] += 1

    def layout(self, options: str | None = None, answer: str | None = None) -> MCLayout:
        """The detected layout; `options` / `answer` (pinned in the recipe) win over what the rows say."""
        how = f"detected from the first {self.rows} rows of this file; set answer_format/options_format to pin it"
        if options is None and self.options:
            options = self.options.most_common(1)[0][0]
        if answer is None and self.answers:
            best = max(self.answers.values())
            answer = next(f for f in _ANSWER_PRIORITY if self.answers.get(f) == best)
        return MCLayout(options, answer, how)


def parse_options(value: Any, key: str, layout: MCLayout = AUTO) -> list[tuple[str, str]]:
    """Options in any of the layouts (an object, a list, packed text); a row unlike its file's layout is an error."""
    value = plain_value(value)
    if is_missing(value) or (isinstance(value, str) and not value.strip()):
        raise MissingField(key, "missing")
    found = options_format_of(value)
    if layout.options and layout.options != "columns" and found != layout.options:
        raise LayoutMismatch(
            key,
            f"expected {OPTIONS_FORMATS[layout.options]} ({layout.how}), found {found or type(value).__name__}: "
            f"{str(value)[:80]!r}",
        )
    if found == "dict":
        return options_from_mapping(value, key)
    if found == "list":
        return options_from_list(value, key)
    if found == "text":
        return parse_options_text(value, key)
    raise MalformedQuestion(key, f"expected an object, a list or text, got {type(value).__name__}")


def parse_answer(value: Any, options: Sequence[tuple[str, str]], key: str, layout: MCLayout = AUTO) -> str:
    """The answer key, from an answer written in the file's layout (see ANSWER_FORMATS)."""
    value = plain_value(value)
    if is_missing(value) or (isinstance(value, str) and not value.strip()):
        raise MissingField(key, "missing")
    if isinstance(value, str):
        value = unicodedata.normalize("NFKC", value)
    fits = answer_formats_of(value, options)
    expected = layout.answer
    if expected is None:
        if not fits:
            known = "; ".join(ANSWER_FORMATS.values())
            raise MalformedQuestion(key, f"answer {value!r} is written in no known layout ({known})")
        expected = fits[0]
    elif expected not in fits and not (expected == "text" and isinstance(value, str)):
        found = ANSWER_FORMATS[fits[0]] if fits else "none of the known layouts"
        raise LayoutMismatch(key, f"expected {ANSWER_FORMATS[expected]} ({layout.how}), found {value!r} ({found})")
    valid = [k for k, _ in options]
    if expected == "letter":
        single = LETTER_KEY_RE.match(value)
        letters = [single.group(1).upper()] if single else split_answer_letters(value, key)
        for letter in letters:
            if letter not in valid:
                raise MalformedQuestion(key, f"answer {letter!r} is not one of the option keys {valid}")
        if len(letters) > 1:
            raise MultiAnswerQuestion(key, letters)
        return letters[0]
    if expected == "letter_text":
        match = _LETTER_TEXT_RE.match(value)
        letter, text = match.group(1), match.group(2)
        if letter not in valid:
            raise MalformedQuestion(key, f"answer {value!r}: {letter!r} is not one of the option keys {valid}")
        named = loose_text(dict(options)[letter])
        if named != loose_text(text):
            # the letter is the answer when the text is that option's, give or take a typo; a text that is another
            # option's, or unlike the named one, contradicts it
            others = {loose_text(t) for k, t in options if k != letter}
            if loose_text(text) in others or SequenceMatcher(None, named, loose_text(text)).ratio() < 0.8:
                raise MalformedQuestion(
                    key, f"answer {value!r} names option {letter}, whose text is {dict(options)[letter]!r}"
                )
        return letter
    if expected == "text":
        return text_key(value, options, key)
    return index_key(value, key, len(options), 0 if expected == "index0" else 1)
