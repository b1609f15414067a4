"""datatrove's Gopher quality and repetition rules, the same decisions and reasons, at a fraction of the cost.

Each function takes the datatrove filter object (its thresholds) and a document and returns exactly what the
filter's own `filter` returns, rule by rule in the same order. What changes is how:

- words come from `split_words` (datatrove's spaCy split, memoized per chunk, and shared between the two filters);
- per-word properties (has a non-punctuation character, has a letter) are computed once per distinct word;
- top n-grams: an upper bound from array operations first (most documents are far under the thresholds); when it
  is not enough they are counted over word tuples in C (`Counter(zip(...))`), which is the same as counting their
  " "-joined strings because words hold no whitespace; ties resolve to the first n-gram seen, as Counter does;
- duplicated n-grams: datatrove's greedy scan only finds something when two "".join-ed windows are equal, so when
  all windows are distinct (nearly every real document) the answer is 0 without the scan; otherwise datatrove's
  own `find_all_duplicate` runs.

tests/pipeline/test_fast_filters.py asserts identical results against datatrove's filters on a fixed sample.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from datatrove.data import Document
from datatrove.pipeline.filters.gopher_repetition_filter import find_duplicates
from datatrove.utils.text import PUNCTUATION_SET

from corpusforge import polyhash
from corpusforge.pipeline.steps.words import split_words

# word -> its number << 40 | its length << 2 | has a letter << 1 | has a non-punctuation character; the numbers tell
# words apart within one document (the table starts over when full)
_WORD_CODES: dict[str, int] = {}
_WORD_CODES_MAX = 150_000  # ~25 MB; a miss costs ~1 us, so a larger table buys little and grows RSS with N
_NON_SYMBOL, _ALPHA, _LENGTH_SHIFT, _ID_SHIFT = 1, 2, 2, 40
_LENGTH_MASK = (1 << (_ID_SHIFT - _LENGTH_SHIFT)) - 1
_last_codes: tuple[list[str] | None, np.ndarray | None] = (None, None)


def word_codes(words: list[str]) -> np.ndarray:
    """Each word's number, length and flags (see _WORD_CODES), computed once per distinct word; both filters ask
    for the same document's words (the same list, see `split_words`), the second one gets the first one's array."""
    global _last_codes
    if _last_codes[0] is words:
        return _last_codes[1]
    codes = _WORD_CODES
    new = [w for w in set(words) if w not in codes]
    if new:
        if len(codes) + len(new) > _WORD_CODES_MAX:
            codes.clear()
            new = list(set(words))
        for w in new:
            non_symbol = any(ch not in PUNCTUATION_SET for ch in w)
            alpha = any(c.isalpha() for c in w)
            codes[w] = len(codes) << _ID_SHIFT | len(w) << _LENGTH_SHIFT | alpha << 1 | non_symbol
    found = np.fromiter(map(codes.__getitem__, words), dtype=np.int64, count=len(words))
    _last_codes = (words, found)
    return found


def word_lengths(codes: np.ndarray) -> np.ndarray:
    return (codes >> _LENGTH_SHIFT) & _LENGTH_MASK


def gopher_quality(f, doc: Document) -> bool | tuple[bool, str]:
    """GopherQualityFilter.filter (datatrove 0.10), rule for rule."""
    text = doc.text
    words = split_words(text, f.language)
    n_words = len(words)
    codes = word_codes(words)
    non_symbol = (codes & _NON_SYMBOL).astype(bool)
    n_non_symbol = int(np.count_nonzero(non_symbol))

    if f.min_doc_words and n_non_symbol < f.min_doc_words:
        return False, "gopher_short_doc"
    if f.max_doc_words and n_non_symbol > f.max_doc_words:
        return False, "gopher_long_doc"

    # = np.mean of the lengths: an exact integer sum divided once, as numpy does
    avg_n_words = int(word_lengths(codes[non_symbol]).sum()) / n_non_symbol if n_non_symbol else float("nan")
    if f.min_avg_word_length and avg_n_words < f.min_avg_word_length:
        return False, "gopher_below_avg_threshold"
    if f.max_avg_word_length and avg_n_words > f.max_avg_word_length:
        return False, "gopher_above_avg_threshold"

    if f.max_symbol_word_ratio and text.count("#") / n_words > f.max_symbol_word_ratio:
        return False, "gopher_too_many_hashes"
    if f.max_symbol_word_ratio and (text.count("...") + text.count("…")) / n_words > f.max_symbol_word_ratio:
        return False, "gopher_too_many_ellipsis"

    lines = text.splitlines()
    if (
        f.max_bullet_lines_ratio
        and sum(s.lstrip().startswith("•") or s.lstrip().startswith("-") for s in lines) / len(lines)
        > f.max_bullet_lines_ratio
    ):
        return False, "gopher_too_many_bullets"
    if (
        f.max_ellipsis_lines_ratio
        and sum(s.rstrip().endswith("...") or s.rstrip().endswith("…") for s in lines) / len(lines)
        > f.max_ellipsis_lines_ratio
    ):
        return False, "gopher_too_many_end_ellipsis"

    if f.max_non_alpha_words_ratio and int(np.count_nonzero(codes & _ALPHA)) / n_words < f.max_non_alpha_words_ratio:
        return False, "gopher_below_alpha_threshold"

    if f.min_stop_words and len(f.stop_words.intersection(words)) < f.min_stop_words:
        return False, "gopher_enough_stop_words"
    return True


def _windows(words: list[str], n: int):
    return zip(*(words[i:] for i in range(n)))


def top_ngram_chars(words: list[str], n: int) -> int:
    """datatrove's find_top_duplicate(get_n_grams(words, n)): characters of the most frequent n-gram x its count."""
    gram, count = Counter(_windows(words, n)).most_common(1)[0]
    return (sum(map(len, gram)) + n - 1) * count


def word_ids_and_offsets(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The words' numbers, and where each word starts in the words joined without spaces (plus the total)."""
    offsets = np.zeros(len(codes) + 1, dtype=np.int64)
    np.cumsum(word_lengths(codes), out=offsets[1:])
    return (codes >> _ID_SHIFT).astype(np.uint64), offsets


def top_ngram_bound(id_prefix: np.ndarray, offsets: np.ndarray, n: int) -> int:
    """An upper bound of `top_ngram_chars` in a few array operations: the largest number of windows sharing a hash
    of their word numbers (polyhash over `id_prefix`, the numbers' prefix sums; a collision only merges counts) x
    the longest window. When the bound is under a rule's threshold, so is the exact value, and the n-grams need not
    be counted (nearly always)."""
    keys = polyhash.run_polynomials(id_prefix, n)
    count = len(keys)
    keys.sort()
    ends = np.flatnonzero(keys[1:] != keys[:-1])  # the last window of each run of equal keys but the final run
    if len(ends):
        most = max(int(ends[0]) + 1, count - 1 - int(ends[-1]), int((ends[1:] - ends[:-1]).max(initial=0)))
    else:
        most = count
    longest = int((offsets[n:] - offsets[:-n]).max()) + n - 1
    return most * longest


_LENGTH_SALT = np.uint64(0xD6E8FEB86659FD93)


class JoinedWindows:
    """The "".join-ed n-word windows of one document, as exact strings on demand and as 64-bit polynomial hashes
    of their characters for all of them at once (equal strings always have equal hashes)."""

    def __init__(self, words: list[str], offsets: np.ndarray):
        self.words = words
        self.offsets = offsets  # where each word starts in "".join(words), and its length
        codes = np.frombuffer("".join(words).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        self.prefix = polyhash.prefix_sums(codes.astype(np.uint64))

    def hashes(self, n: int) -> np.ndarray:
        """Each window's characters as a polynomial (polyhash), salted with its length."""
        start, end = self.offsets[:-n], self.offsets[n:]
        return polyhash.span_polynomials(self.prefix, start, end) + (end - start).astype(np.uint64) * _LENGTH_SALT

    def repeated_chars(self, n: int) -> int:
        """datatrove's find_all_duplicate(words, n): scan the windows left to right, remember each new one, and on
        a window seen before count its characters and jump n words ahead.

        A window whose text occurs once is never "seen before" and changes nothing by being remembered, so the scan
        only visits windows whose hash occurs more than once (none, in most documents), comparing their strings."""
        if len(self.words) < n:
            return 0
        keys = self.hashes(n)
        ordered = np.sort(keys)
        same = ordered[1:] == ordered[:-1]
        if not same.any():
            return 0
        flagged = np.isin(keys, ordered[1:][same])
        words = self.words
        seen: set[str] = set()
        repeated, next_visit = 0, 0
        for position in np.flatnonzero(flagged).tolist():
            if position < next_visit:
                continue
            gram = "".join(words[position : position + n])
            if gram in seen:
                repeated += len(gram)
                next_visit = position + n
            else:
                seen.add(gram)
                next_visit = position + 1
        return repeated


def gopher_repetition(f, doc: Document) -> bool | tuple[bool, str]:
    """GopherRepetitionFilter.filter (datatrove 0.10), rule for rule."""
    text = doc.text
    if not text:
        return False, "empty"

    paragraphs = f.paragraph_exp.split(text.strip())
    paragraphs_duplicates, char_duplicates = find_duplicates(paragraphs)
    if f.dup_para_frac and paragraphs_duplicates / len(paragraphs) > f.dup_para_frac:
        return False, "dup_para_frac"
    if f.dup_para_char_frac and char_duplicates / len(text) > f.dup_para_char_frac:
        return False, "dup_para_char_frac"

    lines = f._line_splitter.split(text)
    line_duplicates, char_duplicates = find_duplicates(lines)
    if f.dup_line_frac and line_duplicates / len(lines) > f.dup_line_frac:
        return False, "dup_line_frac"
    if f.dup_line_char_frac and char_duplicates / len(text) > f.dup_line_char_frac:
        return False, "dup_line_char_frac"

    words = split_words(text, f.language)
    ids, offsets = word_ids_and_offsets(word_codes(words))
    id_prefix = polyhash.prefix_sums(ids)
    for n, n_frac in f.top_n_grams:
        if len(words) < n:
            continue
        bound = top_ngram_bound(id_prefix, offsets, n)
        if bound / len(text) > n_frac and top_ngram_chars(words, n) / len(text) > n_frac:
            return False, f"top_{n}_gram"

    windows = JoinedWindows(words, offsets) if f.dup_n_grams else None
    for n, n_frac in f.dup_n_grams:
        if windows.repeated_chars(n) / len(text) > n_frac:
            return False, f"duplicated_{n}_n_grams"
    return True
