"""datatrove's MinHash signatures, bit for bit, without its per-document spaCy call.

`MinhashDedupSignature` spends most of its time in two places: splitting the simplified text into words with a
spaCy pipeline, and dropping combining marks character by character in Python (`simplify_text`). The subclass
here computes the same shingles: the same normalization (with the marks dropped by one `str.translate` over a
memoized table, and skipped for ASCII text, which has none), the same words (`WordSplitter`, spaCy's output
memoized per chunk), the same n-gram strings and hash function. So the signatures, buckets and removed documents
are those of datatrove (tests/pipeline/test_fast_filters.py compares the signature files).
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import xxhash
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
# what datatrove's WHITESPACE_PATTERN (\s+) replaces by " ", but a lone space, which it would replace by itself
_WHITESPACE_BUT_A_SPACE = (
    re.compile(r"[^\S ]\s*| \s+") if WHITESPACE_PATTERN.pattern == r"\s+" else WHITESPACE_PATTERN
)


def simplify_text(text: str, config: TextNormConfig) -> str:
    """datatrove.utils.text.simplify_text, step for step, the same output; faster where a step would change nothing
    (no weekday without "day", a lone space kept as it is) and in the removal of combining marks."""
    if config.lowercase:
        text = text.lower()
    if config.norm_numbers:
        text = NUMBERS_PATTERN.sub("0", text)
    if config.norm_weekdays and "day" in text:  # every weekday's name ends in "day"
        text = WEEKDAYS_PATTERN.sub("WEEKDAY", text)
    if config.norm_monthnames:
        text = MONTHS_PATTERN.sub("MONTH", text)
    if config.remove_punctuation:
        text = text.translate(PUNCTUATION_TRANS)
    if config.norm_whitespace:
        text = _WHITESPACE_BUT_A_SPACE.sub(" ", text.strip())
    if config.norm_unicode_diacritics and not text.isascii():
        text = unicodedata.normalize("NFD", text).translate(_WITHOUT_MARKS)
    return text.strip()


_PRIME = np.uint64((1 << 61) - 1)
_SHIFT = np.uint64(61)


class FastMinhashDedupSignature(MinhashDedupSignature):
    """MinhashDedupSignature with the same shingles computed faster (see module docstring); datatrove's own path
    for languages the fast word split does not reproduce."""

    def get_signature(self, shingles: np.ndarray) -> list[list[int]]:
        """datatrove's `(shingles * a + b) % (2**61 - 1)` (products wrapping at 2**64, as there), the modulo taken
        by folding the bits above 61 onto the low ones: the same numbers without a division per element."""
        a, b = self.parameters
        phv = shingles * a  # (shingles x hashes): the one array allocated, besides `folded`
        phv += b
        folded = phv & _PRIME
        phv >>= _SHIFT
        folded += phv  # < 2 * prime: one conditional subtraction finishes the modulo
        np.subtract(folded, _PRIME, out=phv)  # wraps to a huge value where folded < prime
        np.minimum(folded, phv, out=folded)
        if self.config.hash_config.precision == 32:
            folded &= np.uint64(self.config.hash_config.max)
        lowest = folded.min(axis=0).astype(self.config.hash_config.np_dtype)
        return lowest.reshape(self.config.num_buckets, -1).tolist()

    def get_shingles(self, text: str) -> np.ndarray:
        if not is_chunked(self.language):
            return super().get_shingles(text)
        words = splitter(self.language)(simplify_text(text, self.config.norm_config))
        n = self.config.n_grams
        count = len(words) - n + 1
        if count <= 0:
            return np.empty((0, 1), dtype=np.uint64)
        grams = map(" ".join, zip(*(words[i:] for i in range(n))))
        return np.fromiter(map(self._direct_hash, grams), dtype=np.uint64, count=count).reshape((-1, 1))

    @property
    def _direct_hash(self):
        """datatrove's hash function, or the xxhash function it wraps (one Python call less per n-gram)."""
        from datatrove.utils.hashes import xxhash as wrappers

        direct = {wrappers.xxhash64: xxhash.xxh64_intdigest, wrappers.xxhash32: xxhash.xxh32_intdigest}
        return direct.get(self._hash_func, self._hash_func)
