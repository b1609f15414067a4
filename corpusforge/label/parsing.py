"""Model text -> one of the options, or the reason it is none (a parse failure is data, not a crash)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from corpusforge.label.config import OptionSpec

EMPTY = "empty"
UNPARSEABLE = "unparseable"
NOT_AN_OPTION = "not_an_option"


@dataclass(frozen=True)
class ParsedAnswer:
    key: str | None
    reason: str | None  # None when parsed, else EMPTY / UNPARSEABLE


_LEAD = re.compile(r"^(?:the\s+)?(?:final\s+)?(?:answer|response)\s*(?:is|:)?\s*:?\s*", re.IGNORECASE)


def parse_answer(text: str, options: Sequence[OptionSpec]) -> ParsedAnswer:
    """Accept `A`, `(A)`, `A) yes`, `Answer: A`, `yes`, `Yes.`: the first token must name exactly one option.

    Otherwise the reason is `empty`, `not_an_option` (a bare key that is not one, e.g. `D`) or `unparseable`.
    """
    body = text.strip()
    if not body:
        return ParsedAnswer(None, EMPTY)
    body = _LEAD.sub("", body).strip()
    keys = {o.key: o.key for o in options}
    match = re.match(r"^[\(\[]?([A-Z])(?:[\)\]\.:,]|\s|$)", body)
    if match and match.group(1) in keys:
        return ParsedAnswer(match.group(1), None)
    letter_only = match is not None and re.fullmatch(r"[\(\[]?[A-Z][\)\]\.]?", body) is not None
    word = re.match(r"^[\W_]*([A-Za-z][\w-]*)", body)
    if word:
        by_text = {o.text.lower(): o.key for o in options}
        key = by_text.get(word.group(1).lower())
        if key:
            return ParsedAnswer(key, None)
    return ParsedAnswer(None, NOT_AN_OPTION if letter_only else UNPARSEABLE)


def normalize(logprobs: dict[str, float]) -> dict[str, float]:
    """Log-scores over the options -> probabilities over the options (softmax)."""
    if not logprobs:
        return {}
    top = max(logprobs.values())
    if math.isinf(top):
        return {k: 1.0 / len(logprobs) for k in logprobs}
    exp = {k: math.exp(v - top) for k, v in logprobs.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}
