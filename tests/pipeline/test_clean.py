"""clean.characters: what it does to whitespace, checked against its plain definition on random strings."""

from __future__ import annotations

import random
import re
import unicodedata

from corpusforge.pipeline.steps.clean import _BLANK_LINES, _CONTROL, clean_text

SPACE_RUN = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
SPACE_AROUND_NEWLINE = re.compile(r" *\n *")


def by_definition(text: str) -> str:
    """NFC; line breaks unified; controls dropped; every run of spacing characters one space; no space around a
    line break; at most one blank line; stripped."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = SPACE_RUN.sub(" ", _CONTROL.sub("", text))
    text = _BLANK_LINES.sub("\n\n", SPACE_AROUND_NEWLINE.sub("\n", text))
    return text.strip()


def test_clean_text_is_its_definition_on_random_strings():
    rng = random.Random(5)
    alphabet = [" ", " ", "\t", "\u00a0", "\u3000", "\u2003", "\n", "\n", "\r", "\r\n", "\x0b", "\x85", "\u2028",
                "\u200b", "e\u0301", "a", "b"]  # fmt: skip
    for _ in range(30_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        assert clean_text(text) == by_definition(text), repr(text)


def test_clean_text_examples():
    assert clean_text("  Title\u00a0 \t of it \r\n\r\n\r\n\n  Body  text\u200b.  ") == "Title of it\n\nBody text."
    assert clean_text("cafe\u0301") == "café"
