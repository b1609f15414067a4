"""datatrove's English word split, token for token, at dictionary speed; one split per document shared by the steps.

datatrove's filters (Gopher quality and repetition) and MinHash split English text with a blank spaCy pipeline
(`datatrove.utils.word_tokenizers.SpaCyTokenizer("en")`): ~150 abstracts per CPU-second, the largest cost of an
English corpus build. spaCy's tokenizer cuts the text at whitespace first and tokenizes each whitespace-free chunk
on its own (prefixes, suffixes, infixes, exceptions; its own `_cache` is keyed by the chunk), so the tokens of a
text are the concatenation of the tokens of its chunks. `WordSplitter` keeps that mapping in a bounded dictionary
and asks spaCy only for chunks it has not seen, all of a document's new chunks in one call. Chunk frequencies are
Zipfian, so after a few thousand documents nearly every chunk is a hit; the output is spaCy's own, not an
approximation (tests/pipeline/test_fast_filters.py checks it against datatrove on real abstracts).

`split_words(text, language)` is what the fast steps call; the last few texts' words are remembered, so Gopher
quality and Gopher repetition running one after the other on the same document split it once.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import cache

DEFAULT_CACHE_CHUNKS = 200_000
_RECENT_TEXTS = 4


class WordSplitter:
    """datatrove's `word_tokenize` for one language, memoized per whitespace-free chunk (see module docstring)."""

    def __init__(self, language: str = "en", max_chunks: int = DEFAULT_CACHE_CHUNKS):
        self.language = language
        self.max_chunks = max_chunks
        self._chunks: dict[str, str | tuple[str, ...]] = {}  # a chunk that is one token maps to itself
        self._nlp = None
        self.misses = 0

    @property
    def nlp(self):
        """The very spaCy pipeline datatrove uses for this language (loaded on first use, once per process)."""
        if self._nlp is None:
            from datatrove.utils.word_tokenizers import load_word_tokenizer

            self._nlp = load_word_tokenizer(self.language).tokenizer
        return self._nlp

    def _learn(self, text_chunks: list[str]) -> None:
        """Tokenize a text's unseen chunks with spaCy in one call (a chunk's tokens end at a token followed by a
        space). When the cache is full it starts over, keeping this text's chunks (frequent ones come back soon)."""
        unique = list(dict.fromkeys(text_chunks))
        chunks = [c for c in unique if c not in self._chunks]
        if len(self._chunks) + len(chunks) > self.max_chunks:
            self._chunks.clear()
            chunks = unique
        self.misses += len(chunks)
        nlp = self.nlp
        joined = " ".join(chunks)
        nlp.max_length = max(nlp.max_length, len(joined) + 10)
        with nlp.memory_zone():
            doc = nlp.tokenizer(joined)
            pieces: list[list[str]] = [[]]
            for token in doc:
                pieces[-1].append(token.text)
                if token.whitespace_:
                    pieces.append([])
            if not pieces[-1]:
                pieces.pop()
        if len(pieces) != len(chunks):  # never seen; if spaCy ever merged across a space, ask chunk by chunk
            pieces = [[t.text for t in nlp.tokenizer(chunk)] for chunk in chunks]
        for chunk, tokens in zip(chunks, pieces):
            self._chunks[chunk] = tokens[0] if len(tokens) == 1 and tokens[0] == chunk else tuple(tokens)

    def __call__(self, text: str) -> list[str]:
        chunks = text.split()
        get = self._chunks.get
        words: list[str] = []
        append, extend = words.append, words.extend
        for chunk in chunks:
            tokens = get(chunk)
            if tokens is None:  # a chunk never seen: learn all of this text's new chunks at once, then start over
                try:
                    self._learn(chunks)
                except Exception:  # what datatrove does on spaCy's failures (its "IS_ALPHA" work-around) applies
                    from datatrove.utils.word_tokenizers import load_word_tokenizer

                    return load_word_tokenizer(self.language).word_tokenize(text)
                return self(text)
            if tokens.__class__ is str:
                append(tokens)
            else:
                extend(tokens)
        return words


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
    """One WordSplitter per language and process (its cache is what makes it fast)."""
    found = _SPLITTERS.get(language)
    if found is None:
        found = _SPLITTERS[language] = WordSplitter(language)
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
