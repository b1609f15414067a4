"""datatrove's English word split, token for token, at dictionary speed; one split per document shared by the steps.

datatrove's filters (Gopher quality and repetition) and MinHash split English text with a blank spaCy pipeline
(`datatrove.utils.word_tokenizers.SpaCyTokenizer("en")`): ~150 abstracts per CPU-second, the largest cost of an
English corpus build. spaCy's tokenizer cuts the text at whitespace first and tokenizes each whitespace-free chunk
on its own (prefixes, suffixes, infixes, exceptions; its own `_cache` is keyed by the chunk), so the tokens of a
text are the concatenation of the tokens of its chunks. `WordSplitter` keeps that mapping in a bounded dictionary
(two generations). A new chunk of plain letters is one token, and one of hyphenated letters or of letters with a
parenthesis or a closing mark gets its tokens from its shape (`composed`); spaCy is asked only for the others
(numbers, formulas, special cases), all of a document's in one call. Chunk frequencies are Zipfian, so after a few
thousand documents most chunks are hits; the output is spaCy's own, not an approximation
(tests/pipeline/test_fast_filters.py checks it against datatrove on a fixed sample and on real abstracts, books and
PMC XML).

`split_words(text, language)` is what the fast steps call; the last few texts' words are remembered, so Gopher
quality and Gopher repetition running one after the other on the same document split it once.
"""

from __future__ import annotations

import re
import sys
from collections import OrderedDict
from contextlib import contextmanager
from functools import cache
from itertools import chain

DEFAULT_CACHE_CHUNKS = 150_000  # per generation (two are kept)
RESET_AFTER_TOKENS = 200_000
_RECENT_TEXTS = 4

# chunks whose English tokens follow from their shape (see `composed`): letters joined by hyphens ("dose-response"),
# and letters with an opening parenthesis and/or one closing mark ("(CRP)", "patients.", "(see", "trials,")
_HYPHENATED = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)+")
_MARKED = re.compile(r"(\(?)([A-Za-z]+)(\)|[,;:\]]|(?<=[a-z])\.)?")
# what `composed` is checked on against spaCy before it is trusted (a spaCy whose rules differ is asked instead)
_COMPOSITION_PROBES = ["dose-response", "Anti-TNF-alpha", "(CRP)", "(see", "patients.", "HIV.", "Ab.", "trials,",
                       "group;", "follows:", "ratio)", "values]", "(TNF", "re-", "e.", "(Dr", "Mr.", "vs."]  # fmt: skip


@contextmanager
def _without_torch():
    """Import spaCy without torch: thinc imports torch when it can (~1.7 CPU-s per process, once per pipeline worker)
    although a blank tokenizer never uses it. Only while spaCy is first imported, and only if torch is not already
    loaded; afterwards `import torch` works as usual (thinc alone keeps believing it is absent)."""
    block = "torch" not in sys.modules and "spacy" not in sys.modules
    if block:
        sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
    try:
        yield
    finally:
        if block and sys.modules.get("torch", False) is None:
            del sys.modules["torch"]


def import_spacy() -> None:
    """Import spaCy and its English rules without torch (see `_without_torch`); the fork server of local builds
    calls it once so that every worker process starts with them loaded."""
    with _without_torch():
        import spacy.lang.en  # noqa: F401


class WordSplitter:
    """datatrove's `word_tokenize` for one language, memoized per whitespace-free chunk (see module docstring)."""

    def __init__(self, language: str = "en", max_chunks: int = DEFAULT_CACHE_CHUNKS):
        self.language = language
        self.max_chunks = max_chunks
        self._chunks: dict[str, tuple[str, ...]] = {}  # chunk -> its tokens (the current generation)
        self._previous: dict[str, tuple[str, ...]] = {}
        self._nlp = None
        self._rules: frozenset[str] | None = None
        self._compose: bool | None = None  # None: not checked against spaCy yet
        self._spacy_tokens = 0
        self.misses = 0

    @property
    def nlp(self):
        """The pipeline datatrove builds for this language (`spacy.blank`), loaded on first use, once per process,
        without lexical attribute getters: a new word's shape, like_num, like_url... are computed in Python for
        every token spaCy has not seen (half its time on new chunks) and never change which tokens come out."""
        if self._nlp is None:
            from datatrove.utils.word_tokenizers import load_word_tokenizer

            with _without_torch():
                reference = load_word_tokenizer(self.language)
                import spacy

                self._nlp = spacy.blank(reference.language)
            self._nlp.vocab.lex_attr_getters = {}
        return self._nlp

    def _learn(self, text_chunks: list[str]) -> None:
        """Add a text's chunks to the cache: from the previous generation when they are there; a chunk of ASCII
        letters that is not a special case ("cannot", "gonna") is one token, as spaCy's `_split_affixes` and
        `_attach_tokens` make it (no English prefix, suffix or infix rule matches letters alone: the suffix rules
        that end in letters, units and currencies, need a digit before them); hyphenated or marked letters get
        their tokens from `composed`; the others go to spaCy in one call. (Asking spaCy's affix expressions
        whether a chunk needs spaCy would cost ~7 us per chunk, as much as spaCy's answer for most.)

        The cache has two generations: when the current one is full it becomes the previous one and a new one
        starts, so memory stays bounded and the chunks in use move on to the new generation as they are met."""
        unique = list(dict.fromkeys(text_chunks))
        chunks = [c for c in unique if c not in self._chunks]
        if len(self._chunks) + len(chunks) > self.max_chunks:
            self._previous, self._chunks = self._chunks, {}
            chunks = unique
        current, previous = self._chunks, self._previous
        if self._compose is None:
            self._check_composition()
        rules, compose = self._rules, self._compose
        hard = []
        for chunk in chunks:
            known = previous.get(chunk)
            if known is not None:
                current[chunk] = known
                continue
            self.misses += 1
            if chunk.isalpha() and chunk.isascii() and chunk not in rules:
                current[chunk] = (chunk,)
            elif compose and (tokens := composed(chunk, rules)) is not None:
                current[chunk] = tokens
            else:
                hard.append(chunk)
        if hard:
            for chunk, tokens in zip(hard, self._spacy(hard)):
                current[chunk] = tuple(tokens)

    def _check_composition(self) -> None:
        """Trust `composed` only where it gives spaCy's tokens on the probes (it does for spaCy 3's English rules;
        tests/pipeline/test_fast_filters.py checks it on every short shape)."""
        self._rules = frozenset(self.nlp.tokenizer.rules)
        spacy_tokens = self._spacy(_COMPOSITION_PROBES)
        self._compose = all(
            composed(probe, self._rules) in (None, tuple(tokens))
            for probe, tokens in zip(_COMPOSITION_PROBES, spacy_tokens)
        )

    def _spacy(self, chunks: list[str]) -> list[list[str]]:
        """spaCy's tokens of each chunk, from one call on the chunks joined by spaces.

        Not in a `memory_zone` (leaving one costs ~150 us, more than tokenizing a document's new chunks): spaCy's
        vocabulary grows with each new word instead, so the pipeline is rebuilt after RESET_AFTER_TOKENS tokens."""
        nlp = self.nlp
        joined = " ".join(chunks)
        nlp.max_length = max(nlp.max_length, len(joined) + 10)
        pieces: list[list[str]] = [[]]
        for token in nlp.tokenizer(joined):
            pieces[-1].append(token.text)
            if token.whitespace_:
                pieces.append([])
        if not pieces[-1]:
            pieces.pop()
        if len(pieces) != len(chunks):  # never seen; if spaCy ever merged across a space, ask chunk by chunk
            pieces = [[t.text for t in nlp.tokenizer(chunk)] for chunk in chunks]
        self._spacy_tokens += sum(map(len, pieces))
        if self._spacy_tokens > RESET_AFTER_TOKENS:
            self._nlp, self._spacy_tokens = None, 0
        return pieces

    def __call__(self, text: str) -> list[str]:
        chunks = text.split()
        try:
            return list(chain.from_iterable(map(self._chunks.__getitem__, chunks)))
        except KeyError:  # chunks never seen: learn all of this text's new chunks at once
            pass
        try:
            self._learn(chunks)
        except Exception:  # what datatrove does on spaCy's failures (its "IS_ALPHA" work-around) applies
            from datatrove.utils.word_tokenizers import load_word_tokenizer

            return load_word_tokenizer(self.language).word_tokenize(text)
        return list(chain.from_iterable(map(self._chunks.__getitem__, chunks)))


def composed(chunk: str, rules: frozenset[str]) -> tuple[str, ...] | None:
    """spaCy's English tokens of a chunk of ASCII letters with hyphens between them, or with an opening "(" and/or
    one closing mark, when no special case is involved; None for any other chunk (spaCy is asked).

    Why these are safe: no English prefix, suffix or infix expression matches inside letters, so spaCy's affix loop
    strips exactly the "(" (a prefix) and the closing mark (a suffix: "." only after a lower-case letter) and keeps
    the letters whole, and its infix expression splits letters-hyphen-letters at every hyphen; the special cases
    are looked up on the chunk and on what is left after each strip, hence the checks against `rules`."""
    if chunk in rules:
        return None
    if _HYPHENATED.fullmatch(chunk):
        return tuple(chunk.replace("-", " - ").split())
    marked = _MARKED.fullmatch(chunk)
    if marked is None:
        return None
    opening, word, closing = marked.groups()
    if word in rules or (opening and closing and (closing != ")" or opening + word in rules)):
        return None
    if opening and word + (closing or "") in rules:
        return None
    return tuple(piece for piece in (opening, word, closing) if piece)


# spaCy languages whose tokenizer is checked to work chunk by chunk (tests/pipeline/test_fast_filters.py); others
# (zh: jieba, ja, vi, th...) segment across whitespace and go through datatrove itself
CHUNKED_SPACY_LANGUAGES = frozenset({"en"})

_SPLITTERS: dict[str, WordSplitter] = {}
_RECENT: OrderedDict[tuple[str, str], list[str]] = OrderedDict()


@cache
def is_chunked(language: str) -> bool:
    """Whether datatrove splits `language` (a code or a 3-letter name: "en", "eng") with a chunk-wise spaCy
    tokenizer, so that WordSplitter gives its exact output."""
    from datatrove.utils.word_tokenizers import SpaCyTokenizer, load_word_tokenizer

    try:
        tokenizer = load_word_tokenizer(language)
    except ValueError:
        return False
    return type(tokenizer) is SpaCyTokenizer and tokenizer.language in CHUNKED_SPACY_LANGUAGES


def splitter(language: str = "en") -> WordSplitter:
    """One WordSplitter per spaCy language and process ("en" and "eng" share one: its cache is what makes it fast)."""
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    key = getattr(load_word_tokenizer(language), "language", language)
    found = _SPLITTERS.get(key)
    if found is None:
        found = _SPLITTERS[key] = WordSplitter(key)
    return found


def split_words(text: str, language: str = "en") -> list[str]:
    """datatrove's `split_into_words(text, language)`, the same list; the words of the last few texts are kept so
    that consecutive steps on one document share one split. Treat the list as read-only."""
    key = (text, language)
    words = _RECENT.get(key)
    if words is None:
        if is_chunked(language):
            words = splitter(language)(text)
        else:
            from datatrove.utils.text import split_into_words

            words = split_into_words(text, language)
        _RECENT[key] = words
        if len(_RECENT) > _RECENT_TEXTS:
            _RECENT.popitem(last=False)
    return words
