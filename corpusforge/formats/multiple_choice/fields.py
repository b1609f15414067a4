"""Reading one field of a source row: required and optional text, integers, dotted names into nested objects.

Every source parser reads its rows through these, so an absent or empty required field (None, NaN, blank text)
fails the same way, as `MissingField` naming the field, whatever the source; an optional field may also count a
spreadsheet's placeholders ("nan", "None", "-") as absent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from corpusforge.formats.multiple_choice.question import MalformedQuestion, MissingField


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def field_value(row: Mapping[str, Any], key: str) -> Any:
    """`row[key]`, where a dotted key ("context.contexts") walks into nested mappings; None when absent."""
    if key in row:
        return row[key]
    node: Any = row
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def required_text(row: Mapping[str, Any], key: str) -> str:
    """A required, non-empty text field (numbers are accepted as text)."""
    value = field_value(row, key)
    if is_missing(value):
        raise MissingField(key, "missing")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise MalformedQuestion(key, f"must be text, got {type(value).__name__}")
    if not value.strip():
        raise MissingField(key, "empty")
    return value.strip()


_ABSENT_TEXTS = {"nan", "none", "null", "n/a", "na", "-", "无"}


def optional_text(row: Mapping[str, Any], key: str | None, absent_words: bool = False) -> str | None:
    """An optional text field; with `absent_words`, spreadsheet placeholders ("nan", "None", "-") count as absent."""
    if key is None:
        return None
    value = field_value(row, key)
    if is_missing(value):
        return None
    if absent_words and isinstance(value, str) and value.strip().casefold() in _ABSENT_TEXTS:
        return None
    if not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise MalformedQuestion(key, f"must be text, got {type(value).__name__}")
    return value.strip() or None


def required_int(value: Any, key: str) -> int:
    if is_missing(value):
        raise MissingField(key, "missing")
    if isinstance(value, bool):
        raise MalformedQuestion(key, f"must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise MalformedQuestion(key, f"must be an integer, got {value!r}")


def plain_value(value: Any) -> Any:
    """JSON-friendly copy of a meta value (numpy arrays from parquet become lists, NaN becomes None)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if is_missing(value):
        return None
    return value
