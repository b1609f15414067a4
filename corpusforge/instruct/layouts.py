"""File layouts of instruction and evaluation sources, cut into raw records with their location.

Chosen by file name, so one adapter reads a source in every layout it is published in:
- `.jsonl`, `.ndjson` (optionally compressed): one JSON object per line;
- `.json`: JSON lines (MedMCQA and PromptCBLUE ship JSON lines named .json), a JSON array of objects, or one
  object keyed by id (the original PubMedQA layout, compact or pretty) - told apart by parsing, not by the first
  line; a file that is none of them is quarantined as a file with the parser's message and position;
- `.csv`: rows with a header (CMExam) or without (MMLU), decoded with the given encoding;
- `.parquet`: rows (the Hub layouts).
The cutting itself is corpusforge/io/'s (json_layouts, delimited, parquet), shared with the corpus readers. Raw
records are the input's own bytes, so a quarantine keeps them losslessly; the parsed row travels along
(`RowRecord.data`).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import Any

from corpusforge.io.decoding import Opener, has_escaped_bytes
from corpusforge.io.delimited import iter_csv
from corpusforge.io.input_records import MalformedRecord, RawRecord, RowRecord
from corpusforge.io.json_layouts import iter_json_document, iter_jsonl
from corpusforge.io.json_values import StrictDecoder, UnusableJSON
from corpusforge.io.parquet import iter_parquet

COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zst", ".xz")


def file_kind(filepath: str) -> str:
    """`jsonl`, `json`, `csv` or `parquet`, from the name (compression suffixes ignored)."""
    suffixes = [s.lower() for s in PurePath(filepath).suffixes if s.lower() not in COMPRESSION_SUFFIXES]
    last = suffixes[-1] if suffixes else ""
    kinds = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
    return kinds.get(last, "jsonl")


def iter_records(
    opener: Opener,
    file: str,
    encoding: str = "utf-8",
    csv_header: bool = True,
    max_record_bytes: int = 64 * 2**20,
) -> Iterator[RawRecord]:
    """Raw records of one file in whichever layout its name says; `opener()` opens it as (decompressed) bytes.

    A `.json` file's layout (JSON lines, array, object keyed by id) is found by parsing it; where a file cannot be
    cut into records, `MalformedFile` is raised after the records before it (see corpusforge/io/json_layouts.py).
    """
    kind = file_kind(file)
    if kind == "json":
        yield from iter_json_document(opener, file, encoding, max_record_bytes, index_key="row")
    elif kind == "csv":
        yield from iter_csv(opener, file, encoding, csv_header, first_row=0, limit=max_record_bytes)
    elif kind == "parquet":
        yield from iter_parquet(opener, file)
    else:
        yield from iter_jsonl(opener, file, limit=max_record_bytes)


def local_opener(path: str | Path) -> Opener:
    """Open a local file as bytes, gunzipping `.gz` files."""
    path = Path(path)
    if path.suffix == ".gz":
        return lambda: gzip.open(path, "rb")
    return lambda: open(path, "rb")


def row_from_raw(record: RawRecord, encoding: str = "utf-8") -> Any:
    """The parsed value of a raw record; a record found broken while cutting raises its MalformedRecord."""
    if record.error is not None:
        raise record.error
    if isinstance(record, RowRecord):
        if isinstance(record.raw, bytes) and has_escaped_bytes(record.raw.decode(encoding, "surrogateescape")) >= 0:
            raise MalformedRecord("bad_encoding", f"not valid {encoding}")
        return record.data
    raw = record.raw
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedRecord("bad_encoding", f"not valid UTF-8 at byte {e.start}") from None
    try:
        return StrictDecoder().loads(raw)
    except json.JSONDecodeError as e:
        raise MalformedRecord("bad_json", f"invalid JSON: {e.msg} at column {e.colno}") from None
    except UnusableJSON as e:
        raise MalformedRecord(e.reason, e.detail) from None
