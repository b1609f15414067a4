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

from corpusforge import polyhash

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
    """64-bit hashes of every run of L consecutive tokens, for each L in `lengths` (ascending): the run's polynomial
    (polyhash: all runs at once from one prefix sum), salted with L and mixed."""
    prefix = polyhash.prefix_sums(token_hashes)
    raw = []
    with np.errstate(over="ignore"):
        for length in lengths:
            if length > len(token_hashes):
                break
            runs = polyhash.run_polynomials(prefix, length)
            runs += np.uint64(length) * _LEN_SALT
            raw.append(runs)
        sizes = [len(r) for r in raw]
        mixed = np.split(_mix(np.concatenate(raw)), np.cumsum(sizes)[:-1]) if raw else []
    return list(mixed) + [np.empty(0, dtype=np.uint64) for _ in range(len(lengths) - len(raw))]


def ngram_hashes(token_hashes: np.ndarray, n: int) -> np.ndarray:
    """64-bit hashes of every run of `n` consecutive tokens (empty when there are fewer than n tokens)."""
    return ngram_hashes_by_length(token_hashes, [n])[0]


_TOKEN_CACHE: dict[str, int] = {}
_TOKEN_CACHE_MAX = 150_000  # ~20 MB; a miss costs one xxh3 call: a larger table buys little and grows RSS


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


# ---- evidence of contamination, with measured precision ------------------------------------------------------------
_DIGITS = re.compile(r"\d+")


def mask_numbers(text: str) -> str:
    """Every run of digits becomes "0" ("17/min" and "22/min", "G4P3" and "G2P1" read alike): vital-sign and
    lab-value boilerplate then looks the same across items (and is recognized as common), and a near-duplicate
    that only changes numbers still matches. Token boundaries are unchanged."""
    return _DIGITS.sub("0", text)


class TrainingDF:
    """How many training records contain each indexed n-gram (one count per distinct indexed hash): an n-gram
    common on the training side is boilerplate of the domain, never evidence on its own."""

    def __init__(self, size: int):
        self.counts = np.zeros(size, dtype=np.int64)
        self.records = 0

    def add(self, positions: np.ndarray) -> None:
        self.records += 1
        if len(positions):
            self.counts[np.unique(positions)] += 1

    def merge(self, other: TrainingDF) -> None:
        self.counts += other.counts
        self.records += other.records

    def generic(self, max_share: float, min_df: int) -> np.ndarray:
        """Hashes found in more than `max_share` of the records and in more than `min_df` of them."""
        return self.counts > max(min_df, max_share * self.records)


@dataclass(frozen=True)
class OverlapMatch:
    """The evaluation reference a candidate contains, with the evidence: `coverage` is the share of the reference's
    distinctive tokens found in the candidate, `span` the longest run of candidate tokens matched (normalized)."""

    ref_id: str
    coverage: float
    ngrams: int
    span: str


class OverlapIndex:
    """Evaluation items as n-grams, and a contamination test that a shared phrase alone does not pass.

    A candidate contains reference R when the n-grams it shares with R cover at least `min_coverage` of R's
    distinctive tokens (tokens lying in at least one of R's distinctive n-grams), on R's side, so repeating a
    phrase in the candidate does not add up. An n-gram found in more than `max_ref_df` references is common to the
    evaluation set (vignette boilerplate: "pulse is 0/min, respirations are 0/min, and blood pressure is...", with
    numbers masked, lab-value lists) and is not evidence. References shorter than `short_ref_tokens` also need the
    match to cover `min_coverage` of the candidate: a short question ("Vitamin D deficiency is seen in") is found
    only in a candidate that is essentially that question, not in any text that mentions the phrase.

    Why coverage rather than "any shared 13-gram": on MedQA-style data one shared 13-gram is usually boilerplate
    (45% of a clean USMLE-style set matched that way), while a copied or lightly edited item shares most of its
    tokens (tests/instruct/test_decontam_precision.py measures both).
    """

    def __init__(
        self,
        n: int = DEFAULT_NGRAM,
        min_coverage: float = 0.5,
        max_ref_df: int = 3,
        short_ref_tokens: int | None = None,
        min_ref_tokens: int = 3,
        numbers_masked: bool = True,
    ):
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if not 0 < min_coverage <= 1:
            raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage}")
        self.n = n
        self.min_coverage = min_coverage
        self.max_ref_df = max_ref_df
        self.short_ref_tokens = 2 * n if short_ref_tokens is None else short_ref_tokens
        self.min_ref_tokens = min_ref_tokens
        self.numbers_masked = numbers_masked
        self.ref_ids: list[str] = []
        self.skipped_refs = 0
        self._ref_tokens: list[int] = []
        self._ref_grams: list[tuple[np.ndarray, int]] = []  # (hashes by start position, n-gram length)
        self._lengths: set[int] = {n}
        self._frozen = False
        self._hashes = np.empty(0, dtype=np.uint64)
        self._refs = np.empty(0, dtype=np.int32)
        self._pos = np.empty(0, dtype=np.int32)
        self._evidence_tokens = np.empty(0, dtype=np.int32)
        self.unmatchable_refs = 0
        self.train: TrainingDF | None = None
        self.generic_train = np.zeros(0, dtype=bool)

    def _tokens(self, text: str) -> list[str]:
        return normalize_tokens(mask_numbers(text) if self.numbers_masked else text)

    def add(self, text: str, ref_id: str) -> int:
        """Index one reference; returns its number of n-grams (0 when it is shorter than `min_ref_tokens`)."""
        tokens = self._tokens(text)
        if len(tokens) < self.min_ref_tokens:
            self.skipped_refs += 1
            return 0
        length = min(self.n, len(tokens))
        self._lengths.add(length)
        hashes = ngram_hashes(token_hashes(tokens), length)
        self.ref_ids.append(ref_id)
        self._ref_tokens.append(len(tokens))
        self._ref_grams.append((hashes, length))
        self._frozen = False
        return len(hashes)

    def __len__(self) -> int:
        self._freeze()
        return len(self._hashes)

    def _freeze(self) -> None:
        """Sort every (hash, reference, first position) once, then count each reference's distinctive tokens."""
        if self._frozen:
            return
        hashes, refs, pos = [], [], []
        for r, (grams, _) in enumerate(self._ref_grams):
            unique, first = np.unique(grams, return_index=True)
            hashes.append(unique)
            refs.append(np.full(len(unique), r, dtype=np.int32))
            pos.append(first.astype(np.int32))
        if hashes:
            all_hashes = np.concatenate(hashes)
            order = np.argsort(all_hashes, kind="stable")
            self._hashes = all_hashes[order]
            self._refs = np.concatenate(refs)[order]
            self._pos = np.concatenate(pos)[order]
        self._uniq, self._entry_hash = np.unique(self._hashes, return_inverse=True)
        if self.train is None or len(self.train.counts) != len(self._uniq):
            self.train = TrainingDF(len(self._uniq))
            self.generic_train = np.zeros(len(self._uniq), dtype=bool)
        evidence = np.zeros(len(self._ref_grams), dtype=np.int32)
        for r, (grams, length) in enumerate(self._ref_grams):
            left, right = self._range(grams)
            distinctive = (right - left <= self.max_ref_df) & ~self._train_generic(left, right)
            evidence[r] = _covered(np.flatnonzero(distinctive), length, self._ref_tokens[r])
        self._evidence_tokens = evidence
        self.unmatchable_refs = int((evidence == 0).sum())
        self._frozen = True

    def _train_generic(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Whether each looked-up hash (found: left < right) is common on the training side."""
        found = right > left
        out = np.zeros(len(left), dtype=bool)
        if found.any():
            out[found] = self.generic_train[self._entry_hash[left[found]]]
        return out

    def count_training(self, text: str) -> None:
        """Count one training record in the training document frequency of the n-grams it shares."""
        self._freeze()
        if not len(self._hashes):
            return
        positions = []
        for grams in ngram_hashes_by_length(token_hashes(self._tokens(text)), sorted(self._lengths)):
            left, right = self._range(grams)
            positions.append(self._entry_hash[left[right > left]])
        self.train.add(np.concatenate(positions) if positions else np.empty(0, dtype=np.int64))

    def set_training_df(self, train: TrainingDF, max_share: float, min_df: int) -> None:
        """Use counts gathered elsewhere (merged from many tasks): n-grams common in training are not evidence."""
        self._freeze()
        if len(train.counts) != len(self._uniq):
            raise ValueError("training counts were gathered over another evaluation index")
        self.train = train
        self.generic_train = train.generic(max_share, min_df)
        self._frozen = False
        self._freeze()

    def _range(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.searchsorted(self._hashes, hashes, "left"), np.searchsorted(self._hashes, hashes, "right")

    def _df(self, hashes: np.ndarray) -> np.ndarray:
        left, right = self._range(hashes)
        return right - left

    def match(self, text: str) -> OverlapMatch | None:
        """The reference `text` contains by the rule in the class docstring (the best covered one), or None."""
        self._freeze()
        if not len(self._hashes):
            return None
        masked = self._tokens(text)
        if not masked:
            return None
        lengths = sorted(self._lengths)
        per_ref: dict[int, list[tuple[int, int, int]]] = {}  # ref -> (ref position, candidate position, length)
        for length, grams in zip(lengths, ngram_hashes_by_length(token_hashes(masked), lengths), strict=True):
            if not len(grams):
                continue
            left, right = self._range(grams)
            df = right - left
            for p in np.flatnonzero((df > 0) & (df <= self.max_ref_df) & ~self._train_generic(left, right)):
                for i in range(left[p], right[p]):
                    per_ref.setdefault(int(self._refs[i]), []).append((int(self._pos[i]), int(p), length))
        best: OverlapMatch | None = None
        for r, hits in per_ref.items():
            evidence = int(self._evidence_tokens[r])
            if not evidence:
                continue
            ref_side = _covered_spans([(q, q + length) for q, _, length in hits], self._ref_tokens[r])
            coverage = min(1.0, ref_side / evidence)
            if coverage < self.min_coverage:
                continue
            cand_spans = [(p, p + length) for _, p, length in hits]
            short = self._ref_tokens[r] < self.short_ref_tokens
            if short and _covered_spans(cand_spans, len(masked)) / len(masked) < self.min_coverage:
                continue
            if best is None or coverage > best.coverage:
                start, end = _longest_run(cand_spans, len(masked))
                tokens = normalize_tokens(text)
                span = " ".join(tokens[start:end] if len(tokens) == len(masked) else masked[start:end])
                best = OverlapMatch(self.ref_ids[r], round(coverage, 3), len(hits), span)
        return best


def _covered(starts: np.ndarray, length: int, total: int) -> int:
    """Tokens covered by n-grams of `length` starting at `starts` (in a text of `total` tokens)."""
    return _covered_spans([(int(s), int(s) + length) for s in starts], total)


def _covered_spans(spans: list[tuple[int, int]], total: int) -> int:
    if not spans:
        return 0
    mark = np.zeros(total + 1, dtype=np.int32)
    for start, end in spans:
        mark[start] += 1
        mark[min(end, total)] -= 1
    return int((np.cumsum(mark[:total]) > 0).sum())


def _longest_run(spans: list[tuple[int, int]], total: int) -> tuple[int, int]:
    mark = np.zeros(total + 1, dtype=np.int32)
    for start, end in spans:
        mark[start] += 1
        mark[min(end, total)] -= 1
    covered = np.cumsum(mark[:total]) > 0
    best, start = (0, 0), None
    for i, c in enumerate([*covered, False]):
        if c and start is None:
            start = i
        elif not c and start is not None:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best
