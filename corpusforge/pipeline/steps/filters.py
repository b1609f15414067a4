"""Quality filters shared by every source: corpusforge's own, and datatrove's offline ones under stable names.

Each is a datatrove BaseFilter that returns a reason with every drop, so drops are counted per reason. Of
datatrove's filters only those that work offline are registered by default; LanguageFilter (fastText model),
C4BadWordsFilter and UnigramLogProbFilter need downloads and are registered under `filter.network.*` for users
who have the network.

`filter.gopher_quality` and `filter.gopher_repetition` take `implementation: fast` (the default: the same rules
and decisions, ~10x cheaper, see steps/gopher.py) or `implementation: datatrove` (datatrove's own code path).
"""

from __future__ import annotations

import inspect
from typing import Any, Literal, get_args, get_origin

from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4BadWordsFilter,
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
    LanguageFilter,
)
from datatrove.pipeline.filters.base_filter import BaseFilter
from pydantic import create_model

from corpusforge.pipeline.registry import StepParams, register
from corpusforge.pipeline.steps.gopher import gopher_quality, gopher_repetition
from corpusforge.pipeline.steps.words import is_chunked
from corpusforge.pipeline.text_units import count_han


@register("filter.length")
class LengthFilter(BaseFilter):
    """Drop documents shorter than `min_chars` (too_short) or longer than `max_chars` (too_long).

    A Han character counts as `han_char_weight` characters (default 3): one carries about a word, so
    "高血压的症状包括头痛。" (11 characters) says as much as a 30-letter English sentence, and a `min_chars` written
    for English does not drop whole Chinese sentences. 1 counts plain characters."""

    def __init__(self, min_chars: int = 1, max_chars: int | None = None, han_char_weight: float = 3.0):
        super().__init__()
        self.min_chars = min_chars
        self.max_chars = max_chars
        self.han_char_weight = han_char_weight

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        n = len(doc.text)
        if self.han_char_weight != 1 and not doc.text.isascii():
            n += (self.han_char_weight - 1) * count_han(doc.text)
        if n < self.min_chars:
            return False, "too_short"
        if self.max_chars is not None and n > self.max_chars:
            return False, "too_long"
        return True


_ASCII_SPACES = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"  # what str.isspace accepts below 128
_ASCII_NON_LETTERS = bytes(c for c in range(128) if not chr(c).isalpha())


def _count_spaces_and_letters(text: str) -> tuple[int, int]:
    """How many characters of `text` are whitespace (str.isspace) and letters (str.isalpha); ASCII text by
    byte operations, other text character by character."""
    if text.isascii():
        spaces = sum(map(text.count, _ASCII_SPACES))
        return spaces, len(text.encode("ascii").translate(None, _ASCII_NON_LETTERS))
    return sum(map(str.isspace, text)), sum(map(str.isalpha, text))


@register("filter.bad_characters")
class BadCharactersFilter(BaseFilter):
    """Drop documents with too many U+FFFD replacement characters or too few letters (garbled/binary text)."""

    # min_letter_ratio: letters (any script) / non-space characters; tables of numbers and binary junk fall below it
    def __init__(self, max_replacement_ratio: float = 0.01, min_letter_ratio: float = 0.3):
        super().__init__()
        self.max_replacement_ratio = max_replacement_ratio
        self.min_letter_ratio = min_letter_ratio

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        text = doc.text
        spaces, letters = _count_spaces_and_letters(text)
        non_space = (len(text) - spaces) or 1
        if text.count("\ufffd") / non_space > self.max_replacement_ratio:
            return False, "replacement_characters"
        if letters / non_space < self.min_letter_ratio:
            return False, "few_letters"
        return True


Implementation = Literal["fast", "datatrove"]


class SelectableImplementation:
    """Mixin of a datatrove filter with a faster equivalent: `implementation="fast"` runs `fast_filter` (same
    decisions, same reasons), `"datatrove"` the filter's own `filter`. Languages whose words the fast split cannot
    reproduce exactly always take datatrove's path."""

    fast_filter: Any = None

    def __init__(self, *args: Any, implementation: Implementation = "fast", **kwargs: Any):
        super().__init__(*args, **kwargs)
        if implementation not in get_args(Implementation):
            raise ValueError(f"implementation must be one of {get_args(Implementation)}, got {implementation!r}")
        self.implementation = implementation

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self.implementation == "fast" and is_chunked(self.language):
            return type(self).fast_filter(self, doc)
        return super().filter(doc)


def _params_from_signature(name: str, cls: type, selectable: bool = False) -> type[StepParams]:
    """A strict params model mirroring the constructor of a datatrove filter (minus its exclusion writer)."""
    fields: dict[str, Any] = {"type": (Literal[name], name)}  # type: ignore[valid-type]
    if selectable:
        fields["implementation"] = (Implementation, "fast")
    for pname, p in inspect.signature(cls.__init__).parameters.items():
        if pname in ("self", "exclusion_writer") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        annotation = p.annotation if p.annotation is not inspect.Parameter.empty else Any
        if isinstance(annotation, str):
            annotation = Any
        if get_origin(annotation) is tuple and len(get_args(annotation)) == 1:
            # datatrove writes `tuple[tuple[int, float]]` for a variable-length tuple of pairs
            annotation = tuple[get_args(annotation)[0], ...]
        default = p.default if p.default is not inspect.Parameter.empty else ...
        fields[pname] = (annotation, default)
    model_name = "".join(part.capitalize() for part in name.replace(".", "_").split("_")) + "Params"
    return create_model(model_name, __base__=StepParams, **fields)


def _register_datatrove(name: str, cls: type, doc: str, attr: str, fast: Any = None) -> type:
    """Register a datatrove filter under a stable corpusforge name, its params taken from its signature; with
    `fast`, a faster equivalent selectable by `implementation` (fast by default).

    The subclass is made importable as `corpusforge.pipeline.steps.filters.<attr>` so that executors can pickle it.
    """
    namespace = {"__doc__": doc, "__module__": __name__, "__qualname__": attr}
    params = _params_from_signature(name, cls, selectable=fast is not None)
    if fast is None:
        wrapper = type(attr, (cls,), {**namespace, "Params": params})
    else:
        wrapper = type(attr, (SelectableImplementation, cls), {**namespace, "Params": params, "fast_filter": fast})
    wrapper.Params.__module__, wrapper.Params.__qualname__ = __name__, f"{attr}.Params"
    globals()[attr] = register(name)(wrapper)
    return wrapper


_register_datatrove(
    "filter.gopher_quality",
    GopherQualityFilter,
    "datatrove's Gopher quality rules (word counts, symbols, stop words).",
    "GopherQuality",
    fast=gopher_quality,
)
_register_datatrove(
    "filter.gopher_repetition",
    GopherRepetitionFilter,
    "datatrove's Gopher repetition rules (duplicate lines, n-grams).",
    "GopherRepetition",
    fast=gopher_repetition,
)
_register_datatrove(
    "filter.c4_quality",
    C4QualityFilter,
    "datatrove's C4 rules (terminal punctuation, short lines, boilerplate).",
    "C4Quality",
)
_register_datatrove(
    "filter.fineweb_quality",
    FineWebQualityFilter,
    "datatrove's FineWeb rules (line punctuation, short lines, dup chars).",
    "FineWebQuality",
)
_register_datatrove(
    "filter.network.language",
    LanguageFilter,
    "datatrove's fastText language filter (downloads its model: needs network).",
    "NetworkLanguage",
)
_register_datatrove(
    "filter.network.c4_badwords",
    C4BadWordsFilter,
    "datatrove's C4 bad-words filter (downloads word lists: needs network).",
    "NetworkC4BadWords",
)
