"""Finding evaluation text inside training text: token normalization and a lean n-gram index.

`NGramIndex` holds the n-grams of reference texts (an evaluation set: PubMedQA contexts, MedQA test questions...)
as 64-bit hashes in one sorted numpy array (12 bytes per n-gram with its reference number), and tells whether a
candidate text shares any n-gram with them, which reference, and how many n-grams.

Why n = 13 by default: it is the overlap length used for the decontamination of GPT-3's training data (Brown et
al., 2020) and adopted since by most LLM data pipelines. 13 normalized words are long enough that ordinary medical
phrasing ("in patients with type 2 diabetes mellitus who were") does not collide by chance, and short enough to
catch a pasted sentence or a lightly edited abstract. CJK text is tokenized per character, so 13 tokens are only
about 6-8 Chinese words; for Chinese evaluation sets a larger n (20-30) behaves more like 13 English words.

Reference texts shorter than n tokens (a short question, an option list) are indexed as one whole n-gram of their
own length, and match only a candidate that contains that exact token sequence. References shorter than
`min_ref_tokens` are not indexed at all (a two-word reference would match half of any corpus) and are counted in
`skipped_refs`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

try:  # xxhash comes with datatrove[processing]; blake2b is the fallback with the same guarantees, only slower
    import xxhash

    def _token_hash(token: str) -> int:
        return xxhash.xxh3_64_intdigest(token)

except ImportError:  # pragma: no cover
    from hashlib import blake2b

    def _token_hash(token: str) -> int:
        return int.from_bytes(blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")


DEFAULT_NGRAM = 13

# Han (with extensions and compatibility ideographs), kana and hangul: one token per character
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_CHAR = re.compile(f"([{_CJK}])")
_WORD = re.compile(r"[^\W_]+")


def normalize_tokens(text: str) -> list[str]:
    """NFKC, lowercase, punctuation dropped; Latin-script (and other) words as tokens, CJK characters one by one."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _WORD.findall(_CJK_CHAR.sub(r" \1 ", text))


# ---- hashing n-grams with numpy -----------------------------------------------------------------------------------
_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd constant of the polynomial rolling combination
_LEN_SALT = np.uint64(0xD6E8FEB86659FD93)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer (in place): spreads the bits of the polynomial combination over the whole word."""
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def ngram_hashes_by_length(token_hashes: np.ndarray, lengths: list[int]) -> list[np.ndarray]:
    """64-bit hashes of every run of L consecutive tokens, for each L in `lengths` (ascending), in one pass:
    the polynomial accumulator of windows of length L extends the one of length L-1 by one token."""
    wanted = set(lengths)
    total = len(token_hashes)
    acc = np.zeros(total, dtype=np.uint64)
    raw: list[np.ndarray] = []
    with np.errstate(over="ignore"):
        for length in range(1, max(lengths) + 1):
            count = total - length + 1
            if count <= 0:
                break
            acc = acc[:count]
            acc *= _MULT
            acc += token_hashes[length - 1 : length - 1 + count]
            if length in wanted:
                raw.append(acc + np.uint64(length) * _LEN_SALT)
        sizes = [len(r) for r in raw]
        mixed = np.split(_mix(np.concatenate(raw)), np.cumsum(sizes)[:-1]) if raw else []
    return list(mixed) + [np.empty(0, dtype=np.uint64) for _ in range(len(lengths) - len(raw))]


def ngram_hashes(token_hashes: np.ndarray, n: int) -> np.ndarray:
    """64-bit hashes of every run of `n` consecutive tokens (empty when there are fewer than n tokens)."""
    return ngram_hashes_by_length(token_hashes, [n])[0]


_TOKEN_CACHE: dict[str, int] = {}
_TOKEN_CACHE_MAX = 1 << 20


def token_hashes(tokens: list[str]) -> np.ndarray:
    """Each token's 64-bit hash (cached: token frequencies are Zipfian, so most lookups hit)."""
    cache = _TOKEN_CACHE
    if len(cache) > _TOKEN_CACHE_MAX:
        cache.clear()
    for token in set(tokens).difference(cache):
        cache[token] = _token_hash(token)
    return np.fromiter(map(cache.__getitem__, tokens), dtype=np.uint64, count=len(tokens))


@dataclass(frozen=True)
class NGramMatch:
    """The first reference a candidate overlaps (in the candidate's reading order) and how many n-grams it shares
    with the whole index."""

    ref_id: str
    ngrams: int


class NGramIndex:
    """The n-grams of reference texts, as hashes; ask whether a candidate text shares one (see module docstring)."""

    def __init__(self, n: int = DEFAULT_NGRAM, min_ref_tokens: int = 3):
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.n = n
        self.min_ref_tokens = min_ref_tokens
        self.ref_ids: list[str] = []
        self.skipped_refs = 0
        self._pending: list[tuple[np.ndarray, int]] = []
        self._hashes = np.empty(0, dtype=np.uint64)
        self._refs = np.empty(0, dtype=np.int32)
        self._short_lengths: set[int] = set()

    def __len__(self) -> int:
        """Distinct n-grams indexed."""
        self._freeze()
        return len(self._hashes)

    @property
    def nbytes(self) -> int:
        self._freeze()
        return self._hashes.nbytes + self._refs.nbytes

    def add(self, text: str, ref_id: str) -> int:
        """Index one reference text; returns the number of n-grams it added (0 if it is too short to index)."""
        tokens = normalize_tokens(text)
        if len(tokens) < self.min_ref_tokens:
            self.skipped_refs += 1
            return 0
        n = min(self.n, len(tokens))
        if n < self.n:
            self._short_lengths.add(n)
        hashes = ngram_hashes(token_hashes(tokens), n)
        self.ref_ids.append(ref_id)
        self._pending.append((hashes, len(self.ref_ids) - 1))
        return len(hashes)

    def _freeze(self) -> None:
        """Merge pending references into the sorted arrays (once per batch of `add` calls)."""
        if not self._pending:
            return
        hashes = np.concatenate([self._hashes, *(h for h, _ in self._pending)])
        refs = np.concatenate([self._refs, *(np.full(len(h), r, dtype=np.int32) for h, r in self._pending)]).astype(
            np.int32
        )
        self._pending = []
        order = np.argsort(hashes, kind="stable")  # stable: a hash shared by several refs keeps the first one
        hashes, refs = hashes[order], refs[order]
        keep = np.ones(len(hashes), dtype=bool)
        keep[1:] = hashes[1:] != hashes[:-1]
        self._hashes, self._refs = hashes[keep], refs[keep]
        # a presence bitmap over the hashes' low bits (~16 slots per n-gram): most candidate n-grams miss it, and
        # only the rest pay a binary search in the (cache-unfriendly) sorted array
        bits = min(max(int(len(self._hashes) * 16).bit_length(), 16), 28)
        self._mask = np.uint64((1 << bits) - 1)
        self._present = np.zeros(1 << bits, dtype=bool)
        self._present[(self._hashes & self._mask).astype(np.intp)] = True

    def _candidate_hashes(self, text: str) -> np.ndarray:
        tokens = token_hashes(normalize_tokens(text))
        if not self._short_lengths:
            return ngram_hashes(tokens, self.n)
        lengths = sorted(self._short_lengths | {self.n})
        parts = ngram_hashes_by_length(tokens, lengths)
        return np.concatenate([parts[-1], *parts[:-1]])  # n-grams first: "first match" follows reading order

    def _lookup(self, hashes: np.ndarray) -> np.ndarray:
        """Positions in `self._hashes` of each candidate hash, -1 where absent."""
        found = np.full(len(hashes), -1, dtype=np.int64)
        if not len(self._hashes) or not len(hashes):
            return found
        maybe = np.flatnonzero(self._present[(hashes & self._mask).astype(np.intp)])
        if len(maybe):
            candidates = hashes[maybe]
            pos = np.searchsorted(self._hashes, candidates)
            pos[pos == len(self._hashes)] = 0
            found[maybe] = np.where(self._hashes[pos] == candidates, pos, -1)
        return found

    def match(self, text: str) -> NGramMatch | None:
        """The first overlapping reference and the number of shared n-grams, or None."""
        self._freeze()
        found = self._lookup(self._candidate_hashes(text))
        hits = found[found >= 0]
        if not len(hits):
            return None
        return NGramMatch(ref_id=self.ref_ids[int(self._refs[hits[0]])], ngrams=len(hits))

    def first_match(self, text: str) -> str | None:
        """The id of the first reference `text` shares an n-gram with, or None."""
        found = self.match(text)
        return found.ref_id if found else None

    def count_matches(self, text: str) -> int:
        """How many of `text`'s n-grams are in the index."""
        found = self.match(text)
        return found.ngrams if found else 0
