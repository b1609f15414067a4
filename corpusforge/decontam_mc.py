"""Evidence that a text contains a multiple-choice evaluation item: its question (or most of it) and most of its
options, near each other, in any order, wrapping or lettering.

Why a second index next to `OverlapIndex`: a one-line question ("Which part of the brachial plexus does not give
branches?") is shorter than one 13-gram, so n-gram coverage cannot find it inside a prompt that wraps it; its option
set is what makes the copy certain. Each item is cut into segments (the question, then each option text, without
its letter) and every segment into short shingles (3 words for Latin-script text, 4 characters for Han text, a
whole segment when it is shorter), numbers masked as in `OverlapIndex`.

A candidate contains item I when, within a window around the question's match:
- the question's distinctive tokens are covered by shared shingles for at least `min_question` (a question with no
  distinctive token, such as "Which of the following is true?", is generic: it is never evidence, and then every
  option must be found);
- at least `min_options` of the options are found (an option is found when shared shingles cover 0.8 of it);
- the distinctive tokens matched (question and found options) number at least `min_evidence`.

A shingle is distinctive when at most `max_ref_df` items contain it and, once `count_training` has seen the
training side, when at most `max_train_share` of the training records (and more than `min_train_df`) contain it:
a span common to many training records ("urine sodium is 0 meq l which of the following is the most likely")
is boilerplate of the domain, not evidence of a copied item.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from corpusforge.decontam import TrainingDF, mask_numbers, ngram_hashes_by_length, normalize_tokens, token_hashes

SHINGLE = {"en": 3, "zh": 4}
MIN_EVIDENCE = {"en": 4, "zh": 6}
MAX_EXPAND = 256  # shingles in more items than this are skipped at lookup (they are generic anyway)


@dataclass(frozen=True)
class MCMatch:
    """The item a candidate contains: question coverage (None: a generic stem), options found, the matched span."""

    ref_id: str
    question_coverage: float | None
    options_found: int
    options_total: int
    evidence_tokens: int
    span: str


class MCIndex:
    """Multiple-choice evaluation items as shingles of their question and options (see the module docstring)."""

    def __init__(
        self,
        language: str = "en",
        min_question: float = 0.6,
        min_options: float = 0.75,
        max_ref_df: int = 3,
        min_evidence: int | None = None,
        numbers_masked: bool = True,
    ):
        self.language = language
        self.k = SHINGLE.get(language, 3)
        self.min_question = min_question
        self.min_options = min_options
        self.max_ref_df = max_ref_df
        self.min_evidence = MIN_EVIDENCE.get(language, 4) if min_evidence is None else min_evidence
        self.numbers_masked = numbers_masked
        self.ref_ids: list[str] = []
        self._segments: list[list[int]] = []  # per item: token count of each segment (question first)
        self._pending: list[tuple] = []  # hashes, item, segment, positions, shingle length
        self._lengths: set[int] = set()
        self._question_words: list[np.ndarray] = []  # per item: hashes of the question's content words
        self._frozen = False
        self.train: TrainingDF | None = None
        self.generic_train = np.zeros(0, dtype=bool)

    def _tokens(self, text: str) -> list[str]:
        return normalize_tokens(mask_numbers(text) if self.numbers_masked else text)

    def _content_words(self, tokens: list[str]) -> list[str]:
        """Words that carry content (Latin script: 3 letters or more; Han: every character)."""
        return tokens if self.language == "zh" else [t for t in tokens if len(t) >= 3]

    def _option_tokens(self, text: str) -> list[str]:
        """An option's tokens; none for an option that is only a letter or a digit ("A", "B": figure items), which
        would match the lettering of any multiple-choice text."""
        tokens = self._tokens(text)
        return tokens if any(len(t) > 1 or self.language == "zh" for t in tokens) else []

    def add(self, question: str, options: list[str], ref_id: str) -> bool:
        """Index one item; False (not indexed) when it has fewer than two non-empty options."""
        segments = [self._tokens(question), *(self._option_tokens(o) for o in options)]
        if sum(1 for s in segments[1:] if s) < 2 or not segments[0]:
            return False
        item = len(self.ref_ids)
        self.ref_ids.append(ref_id)
        self._question_words.append(np.unique(token_hashes(self._content_words(segments[0]))))
        self._segments.append([len(s) for s in segments])
        for seg, tokens in enumerate(segments):
            if not tokens:
                continue
            length = min(self.k, len(tokens))
            self._lengths.add(length)
            hashes = ngram_hashes_by_length(token_hashes(tokens), [length])[0]
            self._pending.append((hashes, item, seg, np.arange(len(hashes), dtype=np.int32), length))
        self._frozen = False
        return True

    def __len__(self) -> int:
        return len(self.ref_ids)

    @property
    def nbytes(self) -> int:
        self._freeze()
        return sum(a.nbytes for a in (self._hashes, self._item, self._seg, self._pos, self._df, self._uniq))

    def _freeze(self) -> None:
        if self._frozen:
            return
        if self._pending:
            hashes = np.concatenate([p[0] for p in self._pending])
            item = np.concatenate([np.full(len(p[0]), p[1], dtype=np.int32) for p in self._pending])
            seg = np.concatenate([np.full(len(p[0]), p[2], dtype=np.int16) for p in self._pending])
            pos = np.concatenate([p[3] for p in self._pending])
            full = np.concatenate([np.full(len(p[0]), p[4] == self.k, dtype=bool) for p in self._pending])
        else:
            full = np.empty(0, dtype=bool)
            hashes, item = np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int32)
            seg, pos = np.empty(0, dtype=np.int16), np.empty(0, dtype=np.int32)
        order = np.lexsort((item, hashes))
        self._hashes, self._item, self._seg, self._pos = hashes[order], item[order], seg[order], pos[order]
        # item document frequency of each hash: distinct items per hash, spread back over its entries
        self._uniq, first, inverse = np.unique(self._hashes, return_index=True, return_inverse=True)
        self._uniq_full = full[order][first]  # a whole shingle (k tokens), not a short segment such as one word
        new_item = np.ones(len(self._hashes), dtype=bool)
        new_item[1:] = (self._hashes[1:] != self._hashes[:-1]) | (self._item[1:] != self._item[:-1])
        df_per_hash = np.add.reduceat(new_item.astype(np.int32), first) if len(first) else np.zeros(0, np.int32)
        self._df = df_per_hash[inverse].astype(np.int32)
        self._entry_hash = inverse.astype(np.int32)  # entry -> distinct-hash number (for the training counts)
        by_item = np.argsort(self._item, kind="stable")
        bounds = np.searchsorted(self._item[by_item], np.arange(len(self.ref_ids) + 1))
        self._by_item = [by_item[bounds[i] : bounds[i + 1]] for i in range(len(self.ref_ids))]
        if self.train is None or len(self.train.counts) != len(self._uniq):
            self.train = TrainingDF(len(self._uniq))
            self.generic_train = np.zeros(len(self._uniq), dtype=bool)
        self._marks: dict[int, list[np.ndarray]] = {}
        self._frozen = True

    # ---- the training side --------------------------------------------------------------------------------------
    def _lookup(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(entry index, candidate position, shingle length) of every indexed shingle the tokens contain."""
        lengths = sorted(self._lengths)
        entries, cand, lens = [], [], []
        hashes_by_length = ngram_hashes_by_length(token_hashes(tokens), lengths)
        for length, grams in zip(lengths, hashes_by_length, strict=True):
            if not len(grams):
                continue
            left = np.searchsorted(self._hashes, grams, "left")
            right = np.searchsorted(self._hashes, grams, "right")
            count = right - left
            keep = np.flatnonzero((count > 0) & (count <= MAX_EXPAND))
            if not len(keep):
                continue
            reps = count[keep]
            starts = np.repeat(left[keep], reps)
            offsets = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
            entries.append(starts + offsets)
            cand.append(np.repeat(keep, reps))
            lens.append(np.full(int(reps.sum()), length, dtype=np.int32))
        if not entries:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        return np.concatenate(entries), np.concatenate(cand), np.concatenate(lens)

    def count_training(self, text: str) -> None:
        """Count one training record in the training document frequency of the shingles it shares."""
        self._freeze()
        entries, _, _ = self._lookup(self._tokens(text))
        self.train.add(self._entry_hash[entries])

    def set_training_df(self, train: TrainingDF, max_share: float, min_df: int) -> None:
        """Use counts gathered elsewhere (merged from many tasks) to mark the training side's generic shingles."""
        self._freeze()
        if len(train.counts) != len(self._uniq):
            raise ValueError("training counts were gathered over another evaluation index")
        self.train = train
        # a one-word option ("Lateral") is in many training records and still evidence as part of its option set:
        # only whole shingles can be boilerplate of the training side
        self.generic_train = train.generic(max_share, min_df) & self._uniq_full
        self._marks = {}

    # ---- matching -----------------------------------------------------------------------------------------------
    def match(self, text: str) -> MCMatch | None:
        """The best-evidenced item `text` contains by the rule of the module docstring, or None."""
        self._freeze()
        if not len(self._hashes):
            return None
        tokens = self._tokens(text)
        entries, cand, lens = self._lookup(tokens)
        if not len(entries):
            return None
        distinct = (self._df[entries] <= self.max_ref_df) & ~self.generic_train[self._entry_hash[entries]]
        items = self._item[entries]
        # only items with enough distinctive hits are worth the per-item work: one shingle covers at most k tokens,
        # fewer than `min_evidence`, so an item needs two at least
        hits_per_item = np.bincount(items[distinct], minlength=len(self.ref_ids))
        best: MCMatch | None = None
        for item in np.flatnonzero(hits_per_item >= (2 if self.min_evidence > self.k else 1)):
            sel = items == item
            found = self._judge(int(item), entries[sel], cand[sel], lens[sel], distinct[sel], tokens)
            if found and (best is None or found.evidence_tokens > best.evidence_tokens):
                best = found
        return best

    def _item_distinctive(self, item: int) -> list[np.ndarray]:
        """Per segment of `item`: which of its tokens lie in a distinctive shingle (computed once per item)."""
        if item not in self._marks:
            self._marks[item] = self._distinctive_marks(item)
        return self._marks[item]

    def _distinctive_marks(self, item: int) -> list[np.ndarray]:
        sizes = self._segments[item]
        marks = [np.zeros(n, dtype=bool) for n in sizes]
        for e in self._by_item[item]:
            if self._df[e] <= self.max_ref_df and not self.generic_train[self._entry_hash[e]]:
                seg, pos = int(self._seg[e]), int(self._pos[e])
                marks[seg][pos : pos + min(self.k, sizes[seg])] = True
        return marks

    def _judge(self, item, entries, cand, lens, distinct, tokens) -> MCMatch | None:
        sizes = self._segments[item]
        segs, pos = self._seg[entries].astype(np.int64), self._pos[entries].astype(np.int64)
        marks = self._item_distinctive(item)
        total_item_tokens = sum(sizes)
        window = 2 * total_item_tokens + 20
        q_hits = np.flatnonzero((segs == 0) & distinct)
        generic_stem = not marks[0].any()
        if generic_stem:
            q_hits = np.flatnonzero(segs == 0)
        # the window: around the question's matched run(s) (the options' for a reworded question), widened by the
        # item's length on both sides
        center = int(np.median(cand[q_hits] if len(q_hits) else cand))
        near = np.abs(cand - center) <= window
        covered = [np.zeros(n, dtype=bool) for n in sizes]
        for s, p, length in zip(segs[near], pos[near], lens[near], strict=True):
            covered[s][p : p + length] = True
        question_distinct = marks[0].sum()
        q_cov = None if generic_stem else float((covered[0] & marks[0]).sum() / question_distinct)
        options = range(1, len(sizes))
        findable = [j for j in options if sizes[j]]
        found = [j for j in findable if covered[j].sum() >= 0.8 * sizes[j]]
        evidence = int((covered[0] & marks[0]).sum()) + sum(int((covered[j] & marks[j]).sum()) for j in found)
        need = len(findable) if generic_stem else max(2, math.ceil(self.min_options * len(findable)))
        if len(found) < need or evidence < self.min_evidence:
            return None
        in_window = cand[near]
        start, end = int(in_window.min()), int(in_window.max()) + int(lens[near].max())
        if q_cov is not None and q_cov < self.min_question:
            # a reworded question: still a copy when every option is there, the options carry the evidence, and
            # most of the question's content words are there too (in any order, between other words)
            options_evidence = evidence - int((covered[0] & marks[0]).sum())
            if len(found) < len(findable) or len(findable) < 3 or options_evidence < self.min_evidence:
                return None
            words = self._question_words[item]
            nearby = token_hashes(self._content_words(tokens[max(0, start - window) : end + window]))
            if q_cov < self.min_question / 2 and (not len(words) or np.isin(words, nearby).mean() < 0.5):
                return None
        span = " ".join(tokens[start:end])
        return MCMatch(
            ref_id=self.ref_ids[item],
            question_coverage=None if q_cov is None else round(q_cov, 3),
            options_found=len(found),
            options_total=len(findable),
            evidence_tokens=evidence,
            span=span,
        )
