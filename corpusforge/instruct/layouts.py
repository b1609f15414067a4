"""File layouts of instruction and evaluation sources, cut into raw records with their location.

Chosen by file name, so one adapter reads a source in every layout it is published in:
- `.jsonl`, `.ndjson` (optionally compressed): one JSON object per line;
- `.json`: JSON lines (MedMCQA and PromptCBLUE ship JSON lines named .json), a JSON array of objects, or one
  object keyed by id (the original PubMedQA layout) - told apart by content (see `iter_json`);
- `.csv`: rows with a header (CMExam) or without (MMLU), decoded with the given encoding;
- `.parquet`: rows (the Hub layouts).
Raw records are JSON text (or bytes, when a CSV row could not be decoded) so a quarantine keeps them losslessly.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path, PurePath
from typing import IO, Any

from corpusforge.pipeline.readers.base import MalformedRecord, RawRecord

Opener = Callable[[], AbstractContextManager[IO[bytes]]]
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zst", ".xz")


def file_kind(filepath: str) -> str:
    """`jsonl`, `json`, `csv` or `parquet`, from the name (compression suffixes ignored)."""
    suffixes = [s.lower() for s in PurePath(filepath).suffixes if s.lower() not in COMPRESSION_SUFFIXES]
    last = suffixes[-1] if suffixes else ""
    kinds = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
    return kinds.get(last, "jsonl")


def iter_records(opener: Opener, file: str, encoding: str = "utf-8", csv_header: bool = True) -> Iterator[RawRecord]:
    """Raw records of one file in whichever layout its name says; `opener()` opens it as (decompressed) bytes."""
    kind = file_kind(file)
    if kind == "json":
        yield from iter_json(opener, file, encoding)
    elif kind == "csv":
        yield from iter_csv(opener, file, encoding, csv_header)
    elif kind == "parquet":
        yield from iter_parquet(opener, file)
    else:
        yield from iter_jsonl(opener, file)


def iter_jsonl(opener: Opener, file: str) -> Iterator[RawRecord]:
    """Non-empty lines as bytes, with 1-based line numbers."""
    with opener() as f:
        for line_no, line in enumerate(f, start=1):
            if line.strip():
                yield RawRecord(line.rstrip(b"\r\n"), {"file": file, "line": line_no})


def iter_json(opener: Opener, file: str, encoding: str = "utf-8") -> Iterator[RawRecord]:
    """A `.json` file: JSON lines when its first line is a whole object, else one array or one keyed object."""
    with opener() as f:
        first = f.readline().strip()
    if first.startswith(b"{") and _is_json_object(first, encoding):
        yield from iter_jsonl(opener, file)
        return
    with opener() as f:
        content = f.read()
    try:
        data = json.loads(content.decode(encoding))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MalformedRecord("bad_json", f"{file}: not a JSON document ({e})") from None
    if isinstance(data, list):
        for i, item in enumerate(data):
            yield RawRecord(json.dumps(item, ensure_ascii=False), {"file": file, "row": i})
    elif isinstance(data, dict):
        for key, item in data.items():
            yield RawRecord(json.dumps(item, ensure_ascii=False), {"file": file, "key": key})
    else:
        raise MalformedRecord("bad_json", f"{file}: expected a JSON array or object, got {type(data).__name__}")


def iter_csv(opener: Opener, file: str, encoding: str = "utf-8", header: bool = True) -> Iterator[RawRecord]:
    """CSV rows as JSON text of {column: value} (header) or [values] (no header), with row and line numbers.

    The file is decoded with `encoding` keeping errors as surrogates, so a row with bad bytes is quarantined on its
    own (its raw bytes restored) instead of failing the whole file. A row whose length differs from the header's
    comes through as {"__columns__": ..., "__values__": ...} for the parser to reject with a clear message.
    """
    with opener() as f:
        text = io.TextIOWrapper(f, encoding=encoding, errors="surrogateescape", newline="")
        reader = csv.reader(text)
        columns = next(reader, None) if header else None
        if header and columns is None:
            return
        row_no, line = 0, reader.line_num + 1
        for values in reader:
            start, line = line, reader.line_num + 1
            if not any(v.strip() for v in values):
                continue
            location = {"file": file, "row": row_no, "line": start}
            row_no += 1
            buf = io.StringIO()
            csv.writer(buf).writerow(values)
            raw = buf.getvalue().rstrip("\r\n")
            if _has_surrogates(raw):
                yield RawRecord(raw.encode(encoding, errors="surrogateescape"), location)
                continue
            row: Any = values
            if columns is not None:
                row = dict(zip(columns, values, strict=False))
                if len(values) != len(columns):
                    row = {"__columns__": columns, "__values__": values}
            yield RawRecord(json.dumps(row, ensure_ascii=False), location)


def iter_parquet(opener: Opener, file: str) -> Iterator[RawRecord]:
    import pyarrow.parquet as pq

    with opener() as f:
        row_no = 0
        for batch in pq.ParquetFile(f).iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                yield RawRecord(json.dumps(row, ensure_ascii=False, default=str), {"file": file, "row": row_no})
                row_no += 1


def local_opener(path: str | Path) -> Opener:
    """Open a local file as bytes, gunzipping `.gz` files."""
    path = Path(path)
    if path.suffix == ".gz":
        return lambda: gzip.open(path, "rb")
    return lambda: open(path, "rb")


def row_from_raw(record: RawRecord, encoding: str = "utf-8") -> Any:
    """The parsed JSON value of a raw record (a CSV row kept as bytes had undecodable bytes: MalformedRecord)."""
    raw = record.raw
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8" if file_kind(str(record.location.get("file", ""))) != "csv" else encoding)
        except UnicodeDecodeError as e:
            raise MalformedRecord("bad_encoding", f"not valid {encoding} at byte {e.start}") from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise MalformedRecord("bad_json", f"invalid JSON: {e.msg} at column {e.colno}") from None


def _is_json_object(line: bytes, encoding: str = "utf-8") -> bool:
    try:
        return isinstance(json.loads(line.decode(encoding)), dict)
    except (json.JSONDecodeError, UnicodeDecodeError, LookupError):
        return False


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)
