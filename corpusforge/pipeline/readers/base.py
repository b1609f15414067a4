"""The base of every corpusforge reader: files in, Documents or quarantine records out.

A reader only knows how to cut its format into raw records (`iter_raw`) and how to turn one raw record into
document fields (`parse`). Everything else is shared and the same for every source:

- each raw record is counted (`records`); a record left out on purpose raises `DropRecord(reason)` and is
  counted (`dropped_<reason>`); a record that cannot be used (bad encoding, bad JSON, a missing field,
  an unparseable XML element, a record over `max_record_bytes`) raises `MalformedRecord` and is written, raw and
  with its location, to `OUTPUT/quarantine/<source>/<rank>.jsonl`, and counted (`quarantined`,
  `quarantined_<reason>`). A record with an empty text is dropped and counted (`dropped_empty_text`).
- text that cannot be encoded (a lone surrogate such as JSON's `"\\ud800"`, half of a UTF-16 pair) is
  quarantined per record (`unencodable_text`, naming the field and the character): it is checked on everything
  a document carries (text, id, metadata) before any writer sees it. Quarantine, not repair: replacing the
  character would change the text silently, and the producer's bug is only fixed where it is seen.
- a file that cannot be read at all, or whose layout breaks so that the rest of it cannot be cut into records
  (a truncated gzip, a JSON document that stops parsing, a 0-byte file), is a file-level quarantine
  (`scope: file`, counted as `files_quarantined`, not as a record, since how many records it held is unknown):
  path, size, the error with its line/column where known, and the raw bytes that could not be read (up to 1 MiB).
- documents get a stable id (`<source>:<id in source>`), the source name, their provenance (file and line,
  byte offset, XML element or PMID), a transform chain that later steps extend, and a `license` id: the one the
  record states (a reader's `parse` puts it in the metadata), else the source's `license:` in the recipe, else
  `unknown` (see corpusforge/pipeline/licenses.py).

So every input record ends as a document, a counted drop, or a counted, kept quarantine record.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from glob import escape as glob_escape
from glob import has_magic
from pathlib import Path
from typing import Any, ClassVar

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.readers.base import BaseDiskReader
from fsspec.implementations.local import LocalFileSystem
from fsspec.utils import infer_compression

from corpusforge.io.compressed import DEFAULT_MAX_COMPRESSION_RATIO, InflateLimits, guarded, verify_stream
from corpusforge.io.input_files import check_local_input
from corpusforge.io.input_records import (
    DropRecord,
    MalformedFile,
    MalformedRecord,
    ParsedRecord,
    RawRecord,
    RowRecord,
)
from corpusforge.io.json_layouts import iter_jsonl
from corpusforge.io.json_values import StrictDecoder, UnusableJSON
from corpusforge.io.lone_surrogates import find_unencodable, printable, unicode_problem
from corpusforge.io.quarantine import QuarantineWriter, raw_to_json
from corpusforge.io.sniff import SNIFF_BYTES, sniff
from corpusforge.pipeline.licenses import UNKNOWN, recipe_license
from corpusforge.pipeline.registry import BuildContext, StepParams

DEFAULT_MAX_RECORD_BYTES = 64 * 2**20
FILE_RAW_BYTES = 2**20  # what a file-level quarantine keeps of the unreadable part


class ReaderParams(StepParams):
    """Options every reader accepts."""

    path: str
    glob: str | None = None
    encoding: str = "utf-8"
    limit: int = -1
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    max_file_bytes: int | None = None
    """stop (and quarantine the rest of) a file that decompresses to more bytes than this; none: no limit"""
    max_compression_ratio: float | None = DEFAULT_MAX_COMPRESSION_RATIO
    """stop a compressed file that inflates more than this many times its size (after 256 MiB): a bomb"""
    follow_symlinks: bool = False
    """read symbolic links that lead out of the input folder (by default they are quarantined unread)"""


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


def _kind_names(kind: type | tuple[type, ...]) -> str:
    return kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)


class SourceReader(BaseDiskReader):
    """Base class of corpusforge readers. Subclasses implement `iter_raw` and `parse` (see module docstring)."""

    type = "📖 - READER"
    Params: ClassVar[type[ReaderParams]] = ReaderParams  # a reader with options of its own narrows it
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
        license: str | None = None,
        max_file_bytes: int | None = None,
        max_compression_ratio: float | None = DEFAULT_MAX_COMPRESSION_RATIO,
        follow_symlinks: bool = False,
    ):
        self.named_file = os.path.normpath(path) if os.path.isfile(path) and not has_magic(path) else None
        folder, glob = split_path(path, glob or self.default_glob)
        super().__init__(data_folder=folder, glob_pattern=glob, limit=limit, recursive=True, add_file_path=False)
        self.display_root = folder
        self.source = source
        self.encoding = encoding
        self.max_record_bytes = max_record_bytes
        self.inflate_limits = InflateLimits(max_file_bytes, max_compression_ratio)
        self.follow_symlinks = follow_symlinks
        self.quarantine = QuarantineWriter(quarantine_dir)
        self.license = recipe_license(license) if license else None  # the recipe's, for records stating none
        self._json_decoder = StrictDecoder()
        self._yielded = 0

    @classmethod
    def from_params(cls, params: ReaderParams, ctx: BuildContext) -> SourceReader:
        kwargs = params.model_dump(exclude={"type"})
        return cls(source=ctx.source, quarantine_dir=ctx.quarantine_dir, license=ctx.license, **kwargs)

    # ---- what subclasses implement ---------------------------------------------------------------------------
    def iter_raw(self, filepath: str) -> Iterator[RawRecord]:
        """Cut one file into raw records. Default: one record per line."""
        yield from self.iter_lines(filepath)

    def parse(self, record: RawRecord) -> ParsedRecord:
        """Turn one raw record into document fields, or raise MalformedRecord (quarantine) / DropRecord."""
        raise NotImplementedError

    # ---- helpers for subclasses -------------------------------------------------------------------------------
    def display_path(self, filepath: str) -> str:
        """The file as records and messages name it: always valid Unicode. A name that is not valid UTF-8
        (`M\\xfcller.jsonl` from an old Windows zip) shows its odd bytes as `\\xNN`; writers would refuse it raw."""
        path = os.path.normpath(os.path.join(self.display_root, filepath))
        return os.fsencode(path).decode("utf-8", "backslashreplace") if find_unencodable(path, "") else path

    def iter_lines(self, filepath: str, blank_rows: bool = False) -> Iterator[RawRecord]:
        """Non-empty lines of a (possibly compressed) file as bytes, with 1-based line numbers; with `blank_rows`
        (delimited text), whitespace-only lines are rows that are counted and dropped (`blank_row`)."""
        yield from iter_jsonl(self.opener(filepath), self.display_path(filepath), blank_rows, self.max_record_bytes)

    def sample_raw(self, filepath: str, limit: int | None = None, cut=None) -> Iterator[RawRecord]:
        """The file's first raw records (cut by `cut`, default `iter_raw`), for a pre-pass that detects a layout
        before reading. A file that cannot be cut stops the sample quietly: it is quarantined, with its error, when
        `read_file` reads it."""
        try:
            for i, record in enumerate((cut or self.iter_raw)(filepath)):
                if limit is not None and i >= limit:
                    return
                if record.error is None and record.drop is None:
                    yield record
        except Exception:
            return

    def opener(self, filepath: str):
        """A callable opening the file as (decompressed) bytes, as the layout cutters take it."""
        return lambda: self.open_input(filepath)

    def open_input(self, filepath: str):
        """The file as (decompressed) bytes; a compressed file, or any file under `max_file_bytes`, behind the
        inflate limits (see corpusforge/io/compressed.py)."""
        f = self.data_folder.open(filepath, "rb", compression="infer")
        compressed = infer_compression(filepath) is not None
        if not compressed and self.inflate_limits.max_file_bytes is None:
            return f
        try:
            size = int(self.data_folder.size(filepath)) if compressed else None
        except Exception:
            size = None
        return guarded(f, size, self.inflate_limits)

    def row_data(self, record: RawRecord) -> Any:
        """The record's parsed value: decoded while cutting (a CSV/parquet row, a JSON element), else its JSON."""
        if isinstance(record, RowRecord):
            if isinstance(record.raw, bytes):
                self.decode(record.raw)  # bytes invalid in the encoding: bad_encoding, with the byte offset
            return record.data
        return self.parse_json(self.decode(record.raw))

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

    def parse_json(self, text: str) -> Any:
        """One JSON value; NaN/Infinity become null (counted), see corpusforge/io/json_values.py."""
        decoder = self._json_decoder
        try:
            value = decoder.loads(text)
        except json.JSONDecodeError as e:
            raise MalformedRecord("bad_json", f"invalid JSON: {e.msg} at column {e.colno}") from None
        except UnusableJSON as e:
            raise MalformedRecord(e.reason, e.detail) from None
        if decoder.nonfinite:
            self.stat_update("json_nonfinite_as_null", value=decoder.nonfinite)
        return value

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
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:  # `true` is not the number 1, nor the text "True"
            raise MalformedRecord("bad_field", f"field {key!r} must be {_kind_names(kind)}, got a boolean")
        if not isinstance(value, kind):
            raise MalformedRecord(
                "bad_field", f"field {key!r} must be {_kind_names(kind)}, got {type(value).__name__}"
            )
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
                "scope": "record",
                "location": record.location,
                "reason": error.reason,
                "error": error.detail,
                "raw": raw,
                "raw_encoding": raw_encoding,
            }
        )
        self.stat_update("quarantined", f"quarantined_{error.reason}")

    def quarantine_file(self, filepath: str, error: MalformedFile, records_before: int) -> None:
        """A file-level quarantine: path, size, error, where it happened and the raw bytes that could not be read."""
        file = self.display_path(filepath)
        try:
            size = int(self.data_folder.size(filepath))
        except Exception:  # the file may be gone or unreadable: the error already says why
            size = None
        raw = error.raw
        if raw is None:
            try:
                with self.data_folder.open(filepath, "rb") as f:
                    raw = f.read(FILE_RAW_BYTES + 1)
            except Exception:
                raw = b""
        location = {"file": file, "size": size, **error.location, "records_before": records_before}
        location["file"] = file
        raw_text, raw_encoding = raw_to_json(raw[:FILE_RAW_BYTES])
        self.quarantine.write(
            {
                "source": self.source,
                "reader": self.name,
                "scope": "file",
                "location": location,
                "reason": error.reason,
                "error": f"{file}: {error.detail}",
                "raw": raw_text,
                "raw_encoding": raw_encoding,
                "raw_truncated": len(raw) > FILE_RAW_BYTES,
            }
        )
        self.stat_update("files_quarantined", f"files_quarantined_{error.reason}")

    def check_encodable(self, parsed: ParsedRecord) -> None:
        """Everything a writer will see must be valid Unicode: a lone surrogate quarantines the record."""
        for where, value in (("text", parsed.text), ("id", parsed.id), ("metadata", parsed.metadata)):
            found = find_unencodable(value, where)
            if found:
                path, index, char = found
                raise MalformedRecord(
                    "unencodable_text",
                    f"{path}: lone surrogate U+{ord(char):04X} at character {index} is not valid Unicode "
                    "(half of a UTF-16 pair, e.g. a JSON \\u escape cut in two); fix it at the source",
                )

    def to_document(self, parsed: ParsedRecord, location: dict[str, Any]) -> Document:
        return Document(
            text=parsed.text,
            id=f"{self.source}:{parsed.id}",
            metadata={
                **parsed.metadata,
                "license": parsed.metadata.get("license") or self.license or UNKNOWN,
                "source": self.source,
                "provenance": {**location, **parsed.provenance},
                "transforms": [self.name],
            },
        )

    # ---- what a file must pass before it is opened for records ----------------------------------------------------
    def expected_kinds(self, filepath: str) -> set[str]:
        """The binary formats (sniff kinds) this file may hold; a text reader expects none."""
        name = filepath.lower()
        if name.endswith(".parquet"):
            return {"parquet"}
        if name.endswith((".tar", ".tar.gz", ".tgz")):
            return {"tar"}
        if name.endswith(".epub"):
            return {"epub", "zip"}
        return set()

    def file_problem(self, filepath: str) -> MalformedFile | None:
        """Why the file must not be cut into records, checked before any record is taken: a link out of the input
        folder or a FIFO/device (never opened), an empty file, a compressed stream that fails its integrity check,
        content of another format than the reader's (a spreadsheet as .csv)."""
        if isinstance(self.data_folder.fs, LocalFileSystem):
            full = self.data_folder.resolve_paths(filepath)
            named = self.named_file is not None and os.path.normpath(full) == os.path.abspath(self.named_file)
            problem = check_local_input(full, self.data_folder.path, self.follow_symlinks, named)
            if problem is not None:
                return problem
        try:
            if self.data_folder.size(filepath) == 0:
                return MalformedFile("empty_file", "the file is empty (0 bytes)")
        except Exception:
            pass  # let opening it say what is wrong
        try:
            return self.check_compressed(filepath) or self.check_content(filepath)
        except MalformedFile as e:  # over the inflate limits while verifying
            return e

    def check_compressed(self, filepath: str) -> MalformedFile | None:
        """A compressed file is read through once first: one that fails its check is quarantined whole (its
        records would be garbage); one cut short is read up to the cut, and the rest is a file quarantine."""
        compression = infer_compression(filepath)
        if compression is None:
            return None
        problem = verify_stream(lambda: self.open_input(filepath))
        if problem is None or problem.kind == "truncated":
            return None
        with self.data_folder.open(filepath, "rb") as f:
            head = f.read(SNIFF_BYTES)
        found = sniff(head)
        if found is not None and found[1] != compression.replace("bz2", "bzip2"):
            detail = f"named .{filepath.rsplit('.', 1)[-1]} but it is {found[0]}, not {compression} data"
            return MalformedFile("wrong_content", detail, {"offset": 0})
        if found is None and problem.offset == 0:
            detail = f"named .{filepath.rsplit('.', 1)[-1]} but it is not {compression} data (plain text?)"
            return MalformedFile("wrong_content", detail, {"offset": 0})
        error = f"{type(problem.error).__name__}: {problem.error}"
        return MalformedFile(
            "damaged_compressed_file",
            f"the {compression} stream is damaged ({error}) after {problem.offset} decompressed bytes: none of its "
            "records are used (they may be garbled); get a fresh copy of the file",
            {"offset": problem.offset},
        )

    def check_content(self, filepath: str) -> MalformedFile | None:
        """A file whose first bytes say it is another format than the reader expects."""
        try:
            with self.open_input(filepath) as f:
                head = f.read(SNIFF_BYTES)
        except Exception:  # a stream cut short within its first bytes: reading it says so, as a file
            return None
        found = sniff(head)
        if found is None or found[1] in self.expected_kinds(filepath):
            return None
        what, _ = found
        return MalformedFile(
            "wrong_content", f"the file is {what}, not what {self.name} reads (export or convert it first)"
        )

    def wanted(self, filepath: str) -> bool:
        """Whether a listed file is input at all (books: by suffix); one that is not is neither read nor checked."""
        return True

    def read_file(self, filepath: str) -> DocumentsPipeline:
        if not self.wanted(filepath):
            return
        problem = self.file_problem(filepath)
        if problem is not None:
            self.quarantine_file(filepath, problem, 0)
            return
        records = self.iter_raw(filepath)
        count = 0
        while True:
            if self.limit != -1 and self._yielded >= self.limit:
                return  # datatrove would read one more record and discard it: counted as input, never kept
            try:
                record = next(records)
            except StopIteration:
                return
            except MalformedFile as e:  # the layout broke: what was read stands, the rest is quarantined
                self.quarantine_file(filepath, e, count)
                return
            except Exception as e:  # the file itself broke (truncated gzip, I/O error): keep what we know
                detail = f"{type(e).__name__}: {e}" + (" (the rest of the file is skipped)" if count else "")
                self.quarantine_file(filepath, MalformedFile("unreadable_file", detail), count)
                return
            count += 1
            self.stat_update("records")
            for repair, n in record.repairs.items():
                self.stat_update(repair, value=n)
            try:
                size = len(record.raw)
                if record.error is not None:
                    raise record.error
                if record.drop is not None:
                    raise DropRecord(record.drop)
                if size > self.max_record_bytes:
                    raise MalformedRecord(
                        "too_large", f"record of {size} bytes exceeds max_record_bytes={self.max_record_bytes}"
                    )
                try:
                    parsed = self.parse(record)
                except UnicodeError as e:  # parse code encoding a lone surrogate, or decoding bad bytes
                    raise unicode_problem(e) from None
                self.check_encodable(parsed)
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
            self._yielded += 1
            yield self.to_document(parsed, record.location)

    def sample_dropped(self, record: RawRecord, reason: str) -> None:
        """Keep a few raw examples of each drop reason for the report (see pipeline/dropped.py)."""
        if self.dropped_samples is not None:
            raw, _ = raw_to_json(record.raw)
            self.dropped_samples.add_raw(self._rank, self.source, reason, raw, printable(record.location))

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.quarantine.set_rank(rank)
        self._rank = rank
        self._yielded = 0  # documents this task has handed on, for `limit`
        try:
            yield from super().run(data, rank, world_size)
        finally:
            self.quarantine.close()
            if self.dropped_samples is not None:
                self.dropped_samples.close()
