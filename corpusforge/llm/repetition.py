"""Has a generation fallen into a repetition loop? Small models greedy-decoding long answers often end by writing
the same sentence again and again until max_tokens; such text must be counted, not taken as reasoning."""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_SENTENCE = re.compile(r"[^.!?。！？\n]+")


def repetition_loop(text: str, min_repeats: int = 3, min_words: int = 12, min_sentence_words: int = 5) -> bool:
    """True when the text ends in a span repeated back to back `min_repeats` times (covering `min_words` words or
    more), or repeats one sentence of `min_sentence_words`+ words `min_repeats` times anywhere."""
    words = _WORD.findall(text.lower())
    if _periodic_tail(words, min_repeats, min_words):
        return True
    sentences = Counter(
        " ".join(_WORD.findall(s.lower()))
        for s in _SENTENCE.findall(text)
        if len(_WORD.findall(s)) >= min_sentence_words
    )
    return any(n >= min_repeats for n in sentences.values())


def _periodic_tail(words: list[str], min_repeats: int, min_words: int) -> bool:
    n = len(words)
    for period in range(1, n // min_repeats + 1):
        tail = words[n - period :]
        repeats = 1
        while (start := n - period * (repeats + 1)) >= 0 and words[start : start + period] == tail:
            repeats += 1
        if repeats >= min_repeats and repeats * period >= min_words:
            return True
    return False
