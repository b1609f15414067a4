"""Cutting CSV/TSV files into raw records, one per row, parsed strictly.

Shared by the corpus readers (pipeline/readers/structured.py) and the instruction adapters (instruct/layouts.py):

- a quote left open (which would otherwise swallow the rest of the file into one field) is found where the row
  stops parsing or comes out with the wrong number of cells over several lines of which some are rows on their
  own; its first line is quarantined (`bad_quoting`) and the lines after it are read again as rows, so every row
  is counted. A row with a quoted multi-line cell and the wrong number of cells is one `bad_row`. A row of only
  delimiters or whitespace is counted and dropped (`blank_row`); an empty line is no row.
- A UTF-8 byte order mark at the start of a file is not part of the first record.
- Raw records keep the row's own lines as bytes, so a quarantine shows exactly what was in the file; the parsed
  cells travel along in `RowRecord.data`.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Iterator

from corpusforge.io.decoding import Opener, check_utf16, has_escaped_bytes, text_stream, to_raw_bytes
from corpusforge.io.input_records import MalformedFile, MalformedRecord, RawRecord, RowRecord

HEADER_LIMIT = 2**20  # characters a header line may have, whatever the record limit


class _Lines:
    """Physical lines of a text stream for csv.reader, remembering the lines of the current row; lines can be put
    back to be read again (after the first line of a row with an open quote was taken out). A line is read at most
    `limit` characters at a time: a longer one is read past, never held whole, and handed on as its first `limit`
    characters, closing or opening a quoted field where the part read past did, so the rows after it parse as
    before;
    `oversized` then says which line it was and how long, and the row holding it is quarantined as too_large."""

    def __init__(self, stream: io.TextIOBase, limit: int, delimiter: str):
        self.stream = stream
        self.limit = limit
        self.delimiter = delimiter
        self.pending: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []
        self.line_no = 0
        self.first = True
        self.oversized: tuple[int, int] | None = None  # (line, characters) of an over-long line in the current row

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.pending:
            item = self.pending.popleft()
        else:
            line = self.stream.readline(self.limit + 1)
            if not line:
                raise StopIteration
            if self.first and line.startswith("\ufeff"):
                line = line[1:]
            self.first = False
            self.line_no += 1
            if len(line) > self.limit and not line.endswith(("\n", "\r")):
                line = self._read_past(line)
            item = (self.line_no, line)
        self.taken.append(item)
        return item[1]

    def _read_past(self, line: str) -> str:
        length, quotes, ending = len(line), line.count('"', self.limit), ""
        while piece := self.stream.readline(self.limit):
            length += len(piece)
            quotes += piece.count('"')
            if piece.endswith(("\n", "\r")):
                ending = piece[len(piece.rstrip("\r\n")) :]
                break
        self.oversized = (self.line_no, length - len(ending))
        head = line[: self.limit]
        # whether a quoted field is open where the head ends, and whether it is at the line's real end
        in_quotes = (sum(taken.count('"') for _, taken in self.taken) + head.count('"')) % 2
        if quotes % 2:
            head += '"' if in_quotes else self.delimiter + '"'
        return head + ending

    def put_back(self, items: list[tuple[int, str]]) -> None:
        self.pending.extendleft(reversed(items))


def iter_csv(
    opener: Opener,
    file: str,
    encoding: str = "utf-8",
    header: bool = True,
    delimiter: str = ",",
    first_row: int = 1,
    limit: int = 64 * 2**20,
) -> Iterator[RawRecord]:
    """CSV/TSV rows: `data` is {column: value} (header) or [values]; location {file, row, line}.

    Bytes invalid in `encoding` are kept (surrogateescape), so such a row is quarantined on its own with its
    original bytes. Rows are numbered from `first_row` after the header, blank rows included. A line over `limit`
    characters is a `too_large` record with its first `limit` characters (the row it is part of, with it). NUL
    characters in cells (a binary export's padding) are removed from the values and counted (`nul_bytes_removed`).
    """
    with opener() as f:
        check_utf16(f.read(4), file, encoding)
    with opener() as f:
        lines = _Lines(text_stream(f, encoding), limit, delimiter)
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        columns: list[str] | None = None
        if header:
            lines.limit = max(limit, HEADER_LIMIT)  # the header is layout, not a record: its own bound
            try:
                columns = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise MalformedFile(
                    "bad_csv", f"the header row cannot be read: {e}", {"file": file, "line": 1}
                ) from None
            if lines.oversized is not None:
                raise MalformedFile(
                    "bad_csv",
                    f"the header row has a line of {lines.oversized[1]} characters, over {lines.limit}",
                    {"file": file, "line": lines.oversized[0]},
                )
            lines.limit = limit
        width = len(columns) if columns is not None else None
        row_no = first_row
        while True:
            lines.taken = []
            try:
                values = next(reader)
                error = None
            except StopIteration:
                if not lines.taken:
                    return
                values, error = None, "the file ends inside a quoted field"
            except csv.Error as e:
                values, error = None, str(e)
            if lines.oversized is not None:  # the row holds a line too long to keep: one too_large record
                (line_no, length), lines.oversized = lines.oversized, None
                raw = "".join(line for _, line in lines.taken)[:limit]
                yield RawRecord(
                    to_raw_bytes(raw, encoding),
                    {"file": file, "row": row_no, "line": lines.taken[0][0], "length": length},
                    error=MalformedRecord(
                        "too_large", f"line {line_no} has {length} characters, over max_record_bytes={limit}"
                    ),
                )
                row_no += 1
                continue
            taken = lines.taken
            if not taken:
                return
            first_line = taken[0][0]
            location = {"file": file, "row": row_no, "line": first_line}
            if values is not None and len(taken) > 1 and width is not None and len(values) != width:
                if not _holds_rows(taken[1:], delimiter, width):  # a quoted multi-line cell in a row of the
                    row_no += 1  # wrong width: one bad row, not an open quote that swallowed the rows after it
                    yield RawRecord(
                        to_raw_bytes("".join(line for _, line in taken).rstrip("\r\n"), encoding),
                        location,
                        error=MalformedRecord(
                            "bad_row", f"{len(values)} values over {len(taken)} lines where the file has {width}"
                        ),
                    )
                    continue
                error = f"{len(values)} cells over {len(taken)} lines where {width} are expected"
            if error is not None:  # an open quote: this line is bad, the lines it swallowed are read again
                lines.put_back(taken[1:])
                raw = taken[0][1].rstrip("\r\n")
                row_no += 1
                yield RawRecord(
                    to_raw_bytes(raw, encoding),
                    location,
                    error=MalformedRecord("bad_quoting", f"unclosed or stray quote: {error}"),
                )
                continue
            if not values:  # an empty line is no row
                continue
            row_no += 1
            raw_text = "".join(line for _, line in taken).rstrip("\r\n")
            raw = to_raw_bytes(raw_text, encoding)
            bad = has_escaped_bytes(raw_text)
            if bad >= 0:
                yield RawRecord(
                    raw,
                    location,
                    error=MalformedRecord(
                        "bad_encoding", f"not valid {encoding} at character {bad} (set `encoding:` in the recipe?)"
                    ),
                )
                continue
            if not any(v.strip() for v in values):
                yield RawRecord(raw, location, drop="blank_row")
                continue
            if width is None:
                width = len(values)
            if columns is not None:
                if len(values) != len(columns):
                    yield RawRecord(
                        raw,
                        location,
                        error=MalformedRecord(
                            "bad_row", f"{len(values)} values where the header has {len(columns)} columns {columns}"
                        ),
                    )
                    continue
                values, repairs = _without_nul(values)
                yield RowRecord(raw, location, repairs=repairs, data=dict(zip(columns, values, strict=True)))
            else:
                values, repairs = _without_nul(values)
                yield RowRecord(raw, location, repairs=repairs, data=values)


def _holds_rows(lines: list[tuple[int, str]], delimiter: str, width: int) -> bool:
    """Whether any of these lines is, on its own, a row of `width` cells: the sign that a quote left open swallowed
    them (rather than a cell that really spans lines)."""
    for _, line in lines:
        try:
            cells = next(csv.reader([line], delimiter=delimiter, strict=True), [])
        except csv.Error:
            continue
        if len(cells) == width and not any('"' in cell for cell in cells):  # a stray quote: the cell's tail
            return True
    return False


def _without_nul(values: list[str]) -> tuple[list[str], dict[str, int]]:
    """Cells without NUL characters, and how many were removed (as a counted repair)."""
    removed = sum(v.count("\x00") for v in values)
    if not removed:
        return values, {}
    return [v.replace("\x00", "") for v in values], {"nul_bytes_removed": removed}
