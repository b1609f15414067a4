"""Units of text length that mean the same in English and Chinese.

A Han character carries about as much as an English word, so counting characters makes Chinese text look ~4x
shorter than English text of the same content, and counting `\\w+` runs makes a whole Chinese clause one "word".
Here a Han character is one token, a run of other letters/digits is one token, and a punctuation mark is one.
"""

from __future__ import annotations

import re

HAN_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK unified ideographs, extension A, compatibility
HAN_RE = re.compile(f"[{HAN_RANGES}]")
TOKEN_RE = re.compile(rf"[{HAN_RANGES}]|[^\W{HAN_RANGES}]+|[^\w\s]")
TOKENS_NAME = "words and punctuation marks, each Han character one token"


def count_tokens(text: str) -> int:
    """Tokens of `text` (see the module docstring): the length unit of licence tables."""
    return sum(1 for _ in TOKEN_RE.finditer(text))


def count_han(text: str) -> int:
    """How many Han characters `text` has."""
    return len(HAN_RE.findall(text))
