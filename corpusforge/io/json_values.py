"""Decoding JSON values that Python's json module would take silently or crash on.

- `NaN`, `Infinity`, `-Infinity` (not JSON, but what Python's and pandas' writers emit for a missing number)
  become null, counted (`json_nonfinite_as_null`): a missing value, never the text "nan".
- An object with a key repeated with different values is unusable (`duplicate_key`): json.loads would silently
  keep the last. A key repeated with the same value is harmless and kept.
- An integer over Python's 4,300-digit conversion limit, and nesting too deep to decode, are unusable values
  (`UnusableJSON`) instead of a ValueError / RecursionError escaping from the reader.
"""

from __future__ import annotations

import json
from typing import Any


class UnusableJSON(ValueError):
    """Well-formed (or nearly) JSON whose value cannot be used; `reason` is the quarantine reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class _DuplicateKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen and seen[key] != value:
                raise _DuplicateKey(key)
            seen[key] = value
    return obj


class StrictDecoder:
    """json.JSONDecoder with the rules of the module docstring; `nonfinite` counts NaN/Infinity of the last call."""

    def __init__(self) -> None:
        self.nonfinite = 0
        self._decoder = json.JSONDecoder(object_pairs_hook=_object, parse_constant=self._constant)

    def __getstate__(self) -> dict:  # the C scanner does not pickle; readers travel to workers by pickle
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def _constant(self, name: str) -> None:
        self.nonfinite += 1
        return None

    def raw_decode(self, text: str, pos: int = 0) -> tuple[Any, int]:
        """(value, end) of the JSON value at `pos`; JSONDecodeError when it is not JSON, UnusableJSON (above)."""
        self.nonfinite = 0
        try:
            return self._decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            raise
        except _DuplicateKey as e:
            raise UnusableJSON("duplicate_key", f"key {e.args[0]!r} appears twice with different values") from None
        except RecursionError:
            raise UnusableJSON("bad_json", "invalid JSON: nested too deeply to parse") from None
        except ValueError as e:  # int() over sys.get_int_max_str_digits()
            raise UnusableJSON("bad_json", f"unusable JSON number: {str(e).split(';')[0]}") from None

    def loads(self, text: str) -> Any:
        """The one JSON value of `text` (whitespace around it allowed), as json.loads."""
        value, end = self.raw_decode(text, len(text) - len(text.lstrip()))
        if text[end:].strip():
            raise json.JSONDecodeError("Extra data", text, end)
        return value
