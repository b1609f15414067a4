"""One unit of input as found in a file, and what reading it can end in.

Every file reader cuts its input into `RawRecord`s (a `RowRecord` when cutting already decoded the layout) and
turns each into a `ParsedRecord`, a counted drop (`DropRecord`) or a quarantine (`MalformedRecord`); a file, or the
rest of one, that cannot be cut at all is a `MalformedFile`. Kept apart from the readers so that cutters, readers,
adapters and formats share one set of types without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class MalformedRecord(Exception):
    """A record that cannot be used. `reason` is a short stable key that becomes a counted stat."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class MalformedFile(Exception):
    """A file, or the rest of one, that cannot be cut into records: quarantined once, as a file."""

    def __init__(self, reason: str, detail: str, location: dict[str, Any] | None = None, raw: bytes | None = None):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.location = location or {}
        self.raw = raw


class DropRecord(Exception):
    """A well-formed record left out on purpose (no abstract, several answers): counted as `dropped_<reason>`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class RawRecord:
    """One unit of input as found in the file, with where it was found.

    `iter_raw` may set `error` when cutting the file already showed the record is broken (a CSV row with an open
    quote, say): it is then quarantined without being parsed; or `drop`, a reason to count it as dropped (a blank
    CSV row).
    """

    raw: bytes | str
    location: dict[str, Any] = field(default_factory=dict)
    error: MalformedRecord | None = None
    drop: str | None = None
    repairs: dict[str, int] = field(default_factory=dict)  # counted normalizations (`nul_bytes_removed`: 2)


@dataclass
class ParsedRecord:
    """What `parse` returns: the text, an id unique within the source, and anything worth keeping."""

    text: str
    id: str
    provenance: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class RowRecord(RawRecord):
    """A record whose layout was already decoded while cutting the file (a CSV/parquet row, a JSON value)."""

    data: Any = None
