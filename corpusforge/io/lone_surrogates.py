"""Text that cannot be encoded: lone surrogates (half of a UTF-16 pair, e.g. JSON's `"\\ud800"`).

Such text is quarantined per record, not repaired (replacing the character would change the text silently): these
find it in anything a record carries, name the field and the character, and write it printable where it must be
shown.
"""

from __future__ import annotations

import re
from typing import Any

from corpusforge.io.input_records import MalformedRecord

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def unicode_problem(error: UnicodeError) -> MalformedRecord:
    """A UnicodeError met while parsing a record, as the record's quarantine reason."""
    if isinstance(error, UnicodeEncodeError):
        char = error.object[error.start : error.start + 1] if isinstance(error.object, str) else ""
        code = f"U+{ord(char):04X} " if char else ""
        return MalformedRecord(
            "unencodable_text",
            f"lone surrogate {code}at character {error.start} is not valid Unicode; fix it at the source",
        )
    return MalformedRecord("bad_encoding", f"{type(error).__name__}: {error}")


def find_unencodable(value: Any, path: str) -> tuple[str, int, str] | None:
    """(field path, index, character) of the first lone surrogate in a str or in a dict/list of them, or None."""
    return _walk_unencodable(value, path)


def printable(value: Any) -> Any:
    """`value` with every lone surrogate in its strings written as `\\udXXX` text, so it can be written as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8") if has_surrogate(value) else value
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable(v) for v in value]
    return value


def has_surrogate(text: str) -> bool:
    """Whether `text` holds a lone surrogate; at C speed (ASCII answers at once, other text is encoded once)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _walk_unencodable(value: Any, path: str) -> tuple[str, int, str] | None:
    if isinstance(value, str):
        if not has_surrogate(value):
            return None
        match = LONE_SURROGATE.search(value)
        return (path, match.start(), match.group()) if match else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _walk_unencodable(key, f"{path} key") or _walk_unencodable(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _walk_unencodable(item, f"{path}.{i}")
            if found:
                return found
    return None
