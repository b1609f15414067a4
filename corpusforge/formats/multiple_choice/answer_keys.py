"""An answer as sources write it (a letter, an index counted from 0 or 1, the option's text, several letters) ->
the key of its option."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from corpusforge.formats.multiple_choice.fields import is_missing, required_int
from corpusforge.formats.multiple_choice.question import KEYS, MalformedQuestion, MissingField

LETTER_KEY_RE = re.compile(r"^\s*[\(（]?\s*([A-Za-z])\s*[\)）]?\s*[\.．、:：]?\s*$")


def letter_key(value: Any, key: str, valid: Sequence[str]) -> str:
    """An answer letter as sources write it ("B", "b", " B. ", "(B)") -> "B"; must be one of `valid`."""
    if is_missing(value) or not isinstance(value, str):
        raise MalformedQuestion(key, f"expected an option letter, got {value!r}")
    match = LETTER_KEY_RE.match(value)
    if not match:
        raise MalformedQuestion(key, f"expected an option letter, got {value!r}")
    letter = match.group(1).upper()
    if letter not in valid:
        raise MalformedQuestion(key, f"answer {letter!r} is not one of the option keys {list(valid)}")
    return letter


def index_key(value: Any, key: str, n_options: int, base: int) -> str:
    """An answer index counted from `base` (0 or 1) -> its letter."""
    index = required_int(value, key) - base
    if not 0 <= index < n_options:
        raise MalformedQuestion(
            key, f"answer index {index + base} is out of range for {n_options} options (base {base})"
        )
    return KEYS[index]


def same_text(a: str, b: str) -> bool:
    """Equal without case, spacing and trailing punctuation (answers copied from options drift so)."""
    return loose_text(a) == loose_text(b)


def text_key(answer: str, options: Sequence[tuple[str, str]], key: str) -> str:
    """The key of the option whose text is `answer` (compared without case, spacing and trailing punctuation)."""
    for k, t in options:
        if same_text(t, answer):
            return k
    raise MalformedQuestion(key, f"answer text {answer!r} matches no option")


def loose_text(text: str) -> str:
    """Text compared without case, spacing and trailing punctuation (answers copied from options drift so)."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold().rstrip(" .。;；")


def split_answer_letters(value: Any, key: str) -> list[str]:
    """ "B" -> ["B"]; "ABD", "A,B,D", "A、B" -> ["A", "B", "D"]."""
    if is_missing(value) or (isinstance(value, str) and not value.strip()):
        raise MissingField(key, "missing")
    if not isinstance(value, str):
        raise MalformedQuestion(key, f"expected option letter(s), got {value!r}")
    letters = [c for c in value.upper() if c in KEYS]
    rest = re.sub(r"[A-Z\s,，、;；/\.]", "", value.upper())
    if not letters or rest:
        raise MalformedQuestion(key, f"expected option letter(s), got {value!r}")
    return list(dict.fromkeys(letters))
