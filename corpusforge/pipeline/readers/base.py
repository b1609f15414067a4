"""The base of every corpusforge reader: files in, Documents or quarantine records out.

A reader only knows how to cut its format into raw records (`iter_raw`) and how to turn one raw record into
document fields (`parse`). Everything else is shared and the same for every source:

- each raw record is counted (`records`); a record left out on purpose raises `DropRecord(reason)` and is
  counted (`dropped_<reason>`); a record that cannot be used (bad encoding, bad JSON, a missing field,
  an unparseable XML element, a record over `max_record_bytes`) raises `MalformedRecord` and is written, raw and
  with its location, to `OUTPUT/quarantine/<source>/<rank>.jsonl`, and counted (`quarantined`,
  `quarantined_<reason>`). A record with an empty text is dropped and counted (`dropped_empty_text`).
- documents get a stable id (`<source>:<id in source>`), the source name, their provenance (file and line,
  byte offset, XML element or PMID) and a transform chain that later steps extend.

So every input record ends as a document, a counted drop, or a counted, kept quarantine record.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from glob import escape as glob_escape
from glob import has_magic
from pathlib import Path
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.readers.base import BaseDiskReader

from corpusforge.pipeline.registry import BuildContext, StepParams

DEFAULT_MAX_RECORD_BYTES = 64 * 2**20


class MalformedRecord(Exception):
    """A record that cannot be used. `reason` is a short stable key that becomes a counted stat."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class DropRecord(Exception):
    """A well-formed record left out on purpose (no abstract, several answers): counted as `dropped_<reason>`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class RawRecord:
    """One unit of input as found in the file, with where it was found.

    `iter_raw` may set `error` when cutting the file already showed the record is broken (the rest of a truncated
    file, say): it is then quarantined without being parsed.
    """

    raw: bytes | str
    location: dict[str, Any] = field(default_factory=dict)
    error: MalformedRecord | None = None


@dataclass
class ParsedRecord:
    """What `parse` returns: the text, an id unique within the source, and anything worth keeping."""

    text: str
    id: str
    provenance: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


class ReaderParams(StepParams):
    """Options every reader accepts."""

    path: str
    glob: str | None = None
    encoding: str = "utf-8"
    limit: int = -1
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES


def split_path(path: str, glob: str | None) -> tuple[str, str | None]:
    """A recipe path may be a file, a folder (read recursively), or a glob: -> (folder, glob relative to it)."""
    if has_magic(path):
        parts = Path(path).parts
        first_magic = next(i for i, p in enumerate(parts) if has_magic(p))
        folder = str(Path(*parts[:first_magic])) if first_magic else "."
        return folder, str(Path(*parts[first_magic:]))
    if os.path.isfile(path):
        # datatrove turns a glob without magic into `*name` (which would also match `other_name`); a one-letter
        # character class makes the pattern match exactly this file
        name = Path(path).name
        return str(Path(path).parent), f"[{name[0]}]{glob_escape(name[1:])}"
    if glob and "/" not in glob:
        glob = f"**/{glob}"  # a folder is read recursively: `*.jsonl` also matches `sub/part.jsonl`
    return path, glob


class QuarantineWriter:
    """Writes quarantined raw records of one task to `<folder>/<rank>.jsonl`; opened on first use.

    The file is rewritten when a task is run again, so a resumed run never duplicates quarantine records.
    """

    def __init__(self, folder: str | Path | None):
        self.folder = Path(folder) if folder else None
        self._file = None
        self._rank = 0

    def set_rank(self, rank: int) -> None:
        self.close()
        self._rank = rank
        if self.folder is not None:
            stale = self.folder / f"{rank:05d}.jsonl"
            if stale.exists():
                stale.unlink()

    def write(self, record: dict[str, Any]) -> None:
        if self.folder is None:
            return
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = open(self.folder / f"{self._rank:05d}.jsonl", "w", encoding="utf-8")  # noqa: SIM115
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def raw_to_json(raw: bytes | str) -> tuple[str, str]:
    """Keep raw input losslessly in JSON: UTF-8 text as is, anything else base64-encoded."""
    if isinstance(raw, str):
        return raw, "text"
    try:
        return raw.decode("utf-8"), "text"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


class SourceReader(BaseDiskReader):
    """Base class of corpusforge readers. Subclasses implement `iter_raw` and `parse` (see module docstring)."""

    type = "📖 - READER"
    default_glob: str | None = None
    dropped_samples = None  # a DroppedSamples set by the build plan: a few raw examples per drop reason
    _rank = 0

    def __init__(
        self,
        path: str,
        source: str,
        quarantine_dir: str | Path | None = None,
        glob: str | None = None,
        encoding: str = "utf-8",
        limit: int = -1,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ):
        folder, glob = split_path(path, glob or self.default_glob)
        super().__init__(data_folder=folder, glob_pattern=glob, limit=limit, recursive=True, add_file_path=False)
        self.display_root = folder
        self.source = source
        self.encoding = encoding
        self.max_record_bytes = max_record_bytes
        self.quarantine = QuarantineWriter(quarantine_dir)

    @classmethod
    def from_params(cls, params: ReaderParams, ctx: BuildContext) -> SourceReader:
        kwargs = params.model_dump(exclude={"type"})
        return cls(source=ctx.source, quarantine_dir=ctx.quarantine_dir, **kwargs)

    # ---- what subclasses implement ---------------------------------------------------------------------------
    def iter_raw(self, filepath: str) -> Iterator[RawRecord]:
        """Cut one file into raw records. Default: one record per line."""
        yield from self.iter_lines(filepath)

    def parse(self, record: RawRecord) -> ParsedRecord:
        """Turn one raw record into document fields, or raise MalformedRecord (quarantine) / DropRecord."""
        raise NotImplementedError

    # ---- helpers for subclasses -------------------------------------------------------------------------------
    def display_path(self, filepath: str) -> str:
        return os.path.normpath(os.path.join(self.display_root, filepath))

    def iter_lines(self, filepath: str) -> Iterator[RawRecord]:
        """Non-empty lines of a (possibly compressed) file as bytes, with 1-based line numbers."""
        file = self.display_path(filepath)
        with self.data_folder.open(filepath, "rb", compression="infer") as f:
            for line_no, line in enumerate(f, start=1):
                if line.strip():
                    yield RawRecord(line.rstrip(b"\r\n"), {"file": file, "line": line_no})

    def decode(self, raw: bytes | str) -> str:
        if isinstance(raw, str):
            return raw
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError as e:
            raise MalformedRecord(
                "bad_encoding", f"not valid {self.encoding} at byte {e.start} (set `encoding:` in the recipe?)"
            ) from None
        except LookupError:
            raise MalformedRecord("bad_encoding", f"unknown encoding {self.encoding!r}") from None

    @staticmethod
    def parse_json(text: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise MalformedRecord("bad_json", f"invalid JSON: {e.msg} at column {e.colno}") from None

    @staticmethod
    def require(data: Any, key: str, kind: type | tuple[type, ...] = str, allow_empty: bool = True) -> Any:
        """`data[key]`, or MalformedRecord naming the field when it is missing or of the wrong type."""
        if not isinstance(data, dict):
            raise MalformedRecord("bad_record", f"expected a JSON object, got {type(data).__name__}")
        if key not in data or data[key] is None:
            raise MalformedRecord("missing_field", f"missing field {key!r}")
        value = data[key]
        if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise MalformedRecord("bad_field", f"field {key!r} must be {names}, got {type(value).__name__}")
        if not allow_empty and not value:
            raise MalformedRecord("missing_field", f"field {key!r} is empty")
        return value

    # ---- the shared machinery ---------------------------------------------------------------------------------
    def to_quarantine(self, record: RawRecord, error: MalformedRecord) -> None:
        raw, raw_encoding = raw_to_json(record.raw)
        self.quarantine.write(
            {
                "source": self.source,
                "reader": self.name,
                "location": record.location,
                "reason": error.reason,
                "error": error.detail,
                "raw": raw,
                "raw_encoding": raw_encoding,
            }
        )
        self.stat_update("quarantined", f"quarantined_{error.reason}")

    def to_document(self, parsed: ParsedRecord, location: dict[str, Any]) -> Document:
        return Document(
            text=parsed.text,
            id=f"{self.source}:{parsed.id}",
            metadata={
                **parsed.metadata,
                "source": self.source,
                "provenance": {**location, **parsed.provenance},
                "transforms": [self.name],
            },
        )

    def read_file(self, filepath: str) -> DocumentsPipeline:
        records = self.iter_raw(filepath)
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except Exception as e:  # the file itself broke (truncated gzip, I/O error): keep what we know
                self.stat_update("records")
                self.to_quarantine(
                    RawRecord(b"", {"file": self.display_path(filepath)}),
                    MalformedRecord("unreadable_file", f"{type(e).__name__}: {e} (rest of the file skipped)"),
                )
                return
            self.stat_update("records")
            try:
                size = len(record.raw)
                if record.error is not None:
                    raise record.error
                if size > self.max_record_bytes:
                    raise MalformedRecord(
                        "too_large", f"record of {size} bytes exceeds max_record_bytes={self.max_record_bytes}"
                    )
                parsed = self.parse(record)
            except MalformedRecord as e:
                self.to_quarantine(record, e)
                continue
            except DropRecord as e:
                self.stat_update("dropped", f"dropped_{e.reason}")
                self.sample_dropped(record, e.reason)
                continue
            if not parsed.text or not parsed.text.strip():
                self.stat_update("dropped", "dropped_empty_text")
                self.sample_dropped(record, "empty_text")
                continue
            yield self.to_document(parsed, record.location)

    def sample_dropped(self, record: RawRecord, reason: str) -> None:
        """Keep a few raw examples of each drop reason for the report (see pipeline/dropped.py)."""
        if self.dropped_samples is not None:
            raw, _ = raw_to_json(record.raw)
            self.dropped_samples.add_raw(self._rank, self.source, reason, raw, record.location)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.quarantine.set_rank(rank)
        self._rank = rank
        try:
            yield from super().run(data, rank, world_size)
        finally:
            self.quarantine.close()
            if self.dropped_samples is not None:
                self.dropped_samples.close()
