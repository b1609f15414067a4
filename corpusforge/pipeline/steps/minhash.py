"""datatrove's MinHash signatures, bit for bit, without its per-document spaCy call.

`MinhashDedupSignature` spends most of its time in two places: splitting the simplified text into words with a
spaCy pipeline, and dropping combining marks character by character in Python (`simplify_text`). The subclass
here computes the same shingles: the same normalization (with the marks dropped by one `str.translate` over a
memoized table, and skipped for ASCII text, which has none), the same words (`WordSplitter`, spaCy's output
memoized per chunk), the same n-gram strings and hash function. So the signatures, buckets and removed documents
are those of datatrove (tests/pipeline/test_fast_filters.py compares the signature files).
"""

from __future__ import annotations

import unicodedata

import numpy as np
from datatrove.pipeline.dedup.minhash import MinhashDedupSignature
from datatrove.utils.text import (
    MONTHS_PATTERN,
    NUMBERS_PATTERN,
    PUNCTUATION_TRANS,
    WEEKDAYS_PATTERN,
    WHITESPACE_PATTERN,
    TextNormConfig,
)

from corpusforge.pipeline.steps.words import is_chunked, splitter


class _WithoutMarks(dict):
    """A str.translate table deleting nonspacing marks (category Mn), filled in as characters are met."""

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.category(chr(code)) == "Mn" else code
        self[code] = value
        return value


_WITHOUT_MARKS = _WithoutMarks()


def simplify_text(text: str, config: TextNormConfig) -> str:
    """datatrove.utils.text.simplify_text, step for step; only the removal of combining marks is done faster."""
    if config.lowercase:
        text = text.lower()
    if config.norm_numbers:
        text = NUMBERS_PATTERN.sub("0", text)
    if config.norm_weekdays:
        text = WEEKDAYS_PATTERN.sub("WEEKDAY", text)
    if config.norm_monthnames:
        text = MONTHS_PATTERN.sub("MONTH", text)
    if config.remove_punctuation:
        text = text.translate(PUNCTUATION_TRANS)
    if config.norm_whitespace:
        text = WHITESPACE_PATTERN.sub(" ", text.strip())
    if config.norm_unicode_diacritics and not text.isascii():
        text = unicodedata.normalize("NFD", text).translate(_WITHOUT_MARKS)
    return text.strip()


class FastMinhashDedupSignature(MinhashDedupSignature):
    """MinhashDedupSignature with the same shingles computed faster (see module docstring); datatrove's own path
    for languages the fast word split does not reproduce."""

    def get_shingles(self, text: str) -> np.ndarray:
        if not is_chunked(self.language):
            return super().get_shingles(text)
        words = splitter(self.language)(simplify_text(text, self.config.norm_config))
        n = self.config.n_grams
        count = len(words) - n + 1
        if count <= 0:
            return np.empty((0, 1), dtype=np.uint64)
        grams = map(" ".join, zip(*(words[i:] for i in range(n))))
        return np.fromiter(map(self._hash_func, grams), dtype=np.uint64, count=count).reshape((-1, 1))
