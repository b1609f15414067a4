"""Cutting JSON files into raw records: JSON lines, and JSON documents (an array, an object keyed by id, values).

Shared by the corpus readers (pipeline/readers/structured.py), the instruction adapters (instruct/layouts.py) and the
PubMedQA format (formats/pubmedqa.py), so every source is cut the same way and the same bad input ends the same way:

- JSON layouts are told apart by parsing, never by the file name alone or by its first line:
  a `[` starts a JSON array (streamed element by element); a file whose first line is a whole JSON object and has
  more lines, or whose first line is broken but whose second line is a whole object, is JSON lines (one record per
  line, a bad line is quarantined on its own); anything else starting with `{` is one JSON object, streamed member
  by member: keyed by id when its first member's value is an object (PubMedQA's `ori_pqal.json`, compact on one
  line or pretty), else a sequence of whole JSON values (one pretty-printed record, or several). Where the JSON
  stops parsing, what was read before stands and the rest is a file-level quarantine naming the parser's message
  and the line and column (`MalformedFile`), unless nothing parsed and most lines are whole objects (JSON lines
  whose first lines are broken). A file that is no JSON layout at all is quarantined as a file.
- A UTF-8 byte order mark at the start of a file is not part of the first record.
- Raw records keep the input's own bytes (a JSON element's text as written), so a quarantine shows exactly what was
  in the file; parsed values travel along in `RowRecord.data` and are not parsed twice.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Iterator
from typing import Any

from corpusforge.io.decoding import Opener, check_utf16, text_stream, to_raw_bytes
from corpusforge.io.input_records import MalformedFile, MalformedRecord, RawRecord, RowRecord
from corpusforge.io.json_values import StrictDecoder, UnusableJSON
from corpusforge.io.lines import iter_lines

JSON_CHUNK = 1 << 20
_STRUCTURE = re.compile(r'["\[\]{}]')  # what changes the nesting outside strings
_IN_STRING = re.compile(r'["\\]')  # what ends a string or escapes the next character
_WS = " \t\r\n\ufeff"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_KEYED_START = re.compile(r'\{\s*("(?:[^"\\]|\\.)*")\s*:\s*\{')


# ---- JSON lines ---------------------------------------------------------------------------------------------------
def iter_jsonl(opener: Opener, file: str, blank_rows: bool = False, limit: int = 64 * 2**20) -> Iterator[RawRecord]:
    """Non-empty lines as bytes, with 1-based line numbers; a UTF-8 BOM before the first line is dropped.

    A line break is LF, CR LF or a lone CR (see corpusforge/io/lines.py). A line over `limit` bytes is never held
    whole: it is a `too_large` record holding its first `limit` bytes, its byte offset and its true length.
    Whitespace-only lines are no records in JSON lines; in delimited text (`blank_rows`) a line of only tabs or
    spaces is a row with nothing in it, counted and dropped (`blank_row`)."""
    with opener() as f:
        for line in iter_lines(f, limit):
            data = line.data
            if line.number == 1:
                check_utf16(data, file)
                if data.startswith(codecs.BOM_UTF8):
                    data = data[len(codecs.BOM_UTF8) :]
            location = {"file": file, "line": line.number}
            if line.oversized:
                location |= {"offset": line.offset, "length": line.length}
                problem = MalformedRecord(
                    "too_large",
                    f"line of {line.length} bytes exceeds max_record_bytes={limit} (its first {limit} bytes kept)",
                )
                yield RawRecord(data, location, error=problem)
            elif data.strip():
                yield RawRecord(data, location)
            elif blank_rows and data:
                yield RawRecord(data, location, drop="blank_row")


# ---- JSON documents -----------------------------------------------------------------------------------------------
class _JsonScanner:
    """A growing window over a decoded text stream, with absolute line/column of any position."""

    def __init__(self, stream: io.TextIOBase, limit: int):
        self.stream, self.limit = stream, limit
        self.buf, self.pos, self.eof = "", 0, False
        self.lines_before = 0  # newlines in the text dropped from the front of `buf`
        self.column_before = 0  # characters of the current line dropped with it (when `buf` starts mid-line)
        self.decoder = StrictDecoder()

    def fill(self) -> bool:
        """Read the next chunk, dropping what was consumed before `pos`."""
        chunk = self.stream.read(JSON_CHUNK)
        self.lines_before += self.buf.count("\n", 0, self.pos)
        newline = self.buf.rfind("\n", 0, self.pos)
        self.column_before = self.pos - newline - 1 if newline != -1 else self.column_before + self.pos
        self.buf, self.pos = self.buf[self.pos :] + chunk, 0
        self.eof = not chunk
        return bool(chunk)

    def grow(self, size: int) -> None:
        """Make sure `size` characters from `pos` are in the window (or the file ended), keeping positions."""
        while not self.eof and len(self.buf) - self.pos < size:
            chunk = self.stream.read(JSON_CHUNK)
            self.buf += chunk
            self.eof = not chunk

    def peek(self) -> str:
        """The next non-blank character ('' at the end), consuming the blanks."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buf) or not self.fill():
                return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def where(self, pos: int) -> tuple[int, int]:
        """1-based line and column of a position in the window."""
        line = self.lines_before + self.buf.count("\n", 0, pos) + 1
        newline = self.buf.rfind("\n", 0, pos)
        return line, (pos - newline) if newline != -1 else self.column_before + pos + 1

    def value(self) -> tuple[Any, str]:
        """Decode the JSON value at `pos`; returns (value, its text). Raises JSONDecodeError (position in window),
        or UnusableJSON for a value that parses but cannot be used (see corpusforge/io/json_values.py)."""
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except UnusableJSON:
                if not self.eof and len(self.buf) - self.pos <= self.limit and self.fill():
                    continue  # it may only look unusable because the window cuts it
                raise
            except json.JSONDecodeError:
                if not self.eof and len(self.buf) - self.pos <= self.limit and self.fill():
                    continue
                raise
            if end == len(self.buf) and not self.eof and self.fill():  # a number cut by the chunk boundary
                continue
            text, self.pos = self.buf[self.pos : end], end
            return value, text

    def skip_oversized(
        self, file: str, encoding: str, what: str, records: int, force: bool = False
    ) -> tuple[str, int] | None:
        """Called when the value at `pos` did not decode within `limit` characters: if it is an array, object or
        string that only goes on longer, consume it without decoding it (the window stays bounded) and return its
        first `limit` characters and its length; None (nothing consumed) when it ends within the limit (malformed,
        not large). With `force` (a value that is well-formed but unusable: nested too deeply, a huge integer)
        it is consumed whatever its size. MalformedFile when the file ends inside it."""
        self.grow(self.limit + 1)
        origin = self.pos
        if force and origin < len(self.buf) and (number := _NUMBER.match(self.buf, origin)):
            self.pos = number.end()
            return self.buf[origin : min(number.end(), origin + self.limit)], number.end() - origin
        if origin >= len(self.buf) or self.buf[origin] not in '[{"':
            return None
        head = self.buf[origin : origin + self.limit]
        line, column = self.where(origin)
        i = start = origin
        depth, in_string, length, refilled = 0, False, 0, False
        while True:
            if i >= len(self.buf):  # past the window: drop what was scanned, read on
                if self.eof and not refilled:
                    self.pos = origin  # it all fit in the window: a malformed value, for the caller to report
                    return None
                over = i - len(self.buf)  # an escaped character that is still to come
                length += len(self.buf) - start
                self.pos = len(self.buf)
                if not self.fill():
                    raise MalformedFile(
                        "bad_json",
                        f"{what} of more than {length} characters is not closed before the end of the file at "
                        f"line {line} column {column} after {records} records",
                        location={"file": file, "line": line, "column": column},
                        raw=to_raw_bytes(head, encoding),
                    )
                i, start, refilled = over, 0, True
                continue
            match = (_IN_STRING if in_string else _STRUCTURE).search(self.buf, i)
            if match is None:
                i = len(self.buf)
                continue
            i = match.end()
            char = match.group()
            if char == "\\":
                i += 1
            elif char == '"':
                in_string = not in_string
                if not in_string and depth == 0:
                    break  # a top-level string ends
            elif char in "[{":
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    break
        length += i - start
        if not force and not refilled and length <= self.limit:  # it ends within the limit: malformed, not large
            self.pos = origin
            return None
        self.pos = i
        return head, length

    def fail(
        self, file: str, encoding: str, message: str, error_at: int | None = None, records: int = 0
    ) -> MalformedFile:
        """A file-level quarantine from `pos` on: the parser's message with its line and column, and the text that
        could not be read (up to the record size limit)."""
        line, column = self.where(self.pos if error_at is None else error_at)
        self.grow(self.limit + 1)
        rest = self.buf[self.pos : self.pos + self.limit]
        after = f" after {records} records (the rest of the file is skipped)" if records else ""
        return MalformedFile(
            "bad_json",
            f"not a JSON array, object or JSON lines: {message} at line {line} column {column}{after}",
            location={"file": file, "line": line, "column": column},
            raw=to_raw_bytes(rest, encoding),
        )


def _first_lines(opener: Opener, limit: int) -> list[bytes]:
    """Up to two non-blank lines from the start of the file (each cut at `limit` bytes)."""
    lines: list[bytes] = []
    with opener() as f:
        while len(lines) < 2:
            line = f.readline(limit + 1)
            if not line:
                break
            if not lines and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8) :]
            if line.strip():
                lines.append(line)
    return lines


def _is_object_line(line: bytes, encoding: str) -> bool:
    try:
        return isinstance(json.loads(line.decode(encoding)), dict)
    except (ValueError, LookupError, RecursionError):
        return False


def json_layout(opener: Opener, encoding: str = "utf-8", limit: int = 64 * 2**20) -> str:
    """`array`, `lines`, `object` (one object or a sequence of values, streamed) or `empty`, by parsing the start."""
    lines = _first_lines(opener, limit)
    if not lines:
        return "empty"
    check_utf16(lines[0], "", encoding)
    first = lines[0].lstrip()
    if first.startswith(b"["):
        return "array"
    whole = len(lines) == 2 and (_is_object_line(lines[0], encoding) or _is_object_line(lines[1], encoding))
    if first.startswith(b"{") and whole:
        return "lines"
    return "object"


def iter_json_document(
    opener: Opener,
    file: str,
    encoding: str = "utf-8",
    limit: int = 64 * 2**20,
    index_key: str = "element",
) -> Iterator[RawRecord]:
    """Records of a `.json` file in whichever layout it has (see the module docstring)."""
    layout = json_layout(opener, encoding, limit)
    if layout == "empty":
        return
    if layout == "lines":
        yield from iter_jsonl(opener, file, limit=limit)
        return
    count = 0
    try:
        with opener() as f:
            scan = _JsonScanner(text_stream(f, encoding), limit)
            cut = _iter_array if layout == "array" else _iter_object
            for record in cut(scan, file, encoding, index_key):
                count += 1
                yield record
    except MalformedFile:
        # nothing parsed as one document: JSON lines whose first lines are all broken still read as lines
        if count or layout == "array" or not _mostly_object_lines(opener, encoding, limit):
            raise
        yield from iter_jsonl(opener, file, limit=limit)


def _mostly_object_lines(opener: Opener, encoding: str, limit: int, sample: int = 50) -> bool:
    """Whether most of the first `sample` non-blank lines (at least two) are whole JSON objects."""
    seen = whole = 0
    with opener() as f:
        while seen < sample:
            line = f.readline(limit + 1)
            if not line:
                break
            if line.strip():
                seen += 1
                whole += _is_object_line(line.lstrip(codecs.BOM_UTF8), encoding)
    return whole >= 2 and whole * 2 >= seen


def _record(text: str, value: Any, location: dict[str, Any], encoding: str) -> RowRecord:
    return RowRecord(to_raw_bytes(text, encoding), location, data=value)


def _next_value(
    scan: _JsonScanner, file: str, encoding: str, location: dict[str, Any], what: str, records: int
) -> RawRecord:
    """The record of the value at `pos`; one over the size limit is quarantined alone (its first `limit`
    characters kept) and reading goes on after it; a malformed one ends the file (file-level quarantine)."""
    try:
        value, text = scan.value()
    except UnusableJSON as e:  # this value alone: consumed and quarantined, reading goes on after it
        skipped = scan.skip_oversized(file, encoding, what, records, force=True)
        if skipped is None:
            raise scan.fail(file, encoding, f"{what}: {e.detail}", records=records) from None
        head, _ = skipped
        return RawRecord(
            to_raw_bytes(head, encoding), location, error=MalformedRecord(e.reason, f"{what}: {e.detail}")
        )
    except json.JSONDecodeError as e:
        skipped = scan.skip_oversized(file, encoding, what, records)
        if skipped is None:
            raise scan.fail(file, encoding, f"{what}: {e.msg}", e.pos, records=records) from None
        head, length = skipped
        problem = MalformedRecord("too_large", f"{what} has {length} characters, over max_record_bytes={scan.limit}")
        return RawRecord(to_raw_bytes(head, encoding), location, error=problem)
    record = _record(text, value, location, encoding)
    if scan.decoder.nonfinite:
        record.repairs["json_nonfinite_as_null"] = scan.decoder.nonfinite
    return record


def _iter_array(scan: _JsonScanner, file: str, encoding: str, index_key: str) -> Iterator[RawRecord]:
    scan.peek()
    scan.pos += 1  # the opening '['
    if scan.peek() == "]":
        scan.pos += 1
        _expect_end(scan, file, encoding, "array", 0)
        return
    index = 0
    while True:
        if scan.peek() == "":
            raise scan.fail(file, encoding, "the array ends without ']'", records=index)
        location = {"file": file, index_key: index}
        yield _next_value(scan, file, encoding, location, f"element {index}", records=index)
        index += 1
        if _closes(scan, file, encoding, "]", f"element {index - 1}", index):
            return


def _iter_object(scan: _JsonScanner, file: str, encoding: str, index_key: str) -> Iterator[RawRecord]:
    """One JSON object: keyed by id when its first member's value is an object, else whole values one by one."""
    if scan.peek() != "{":
        raise scan.fail(file, encoding, f"expected '[' or '{{', found {scan.peek()!r}")
    keyed = _first_member_is_object(scan)
    if keyed:
        yield from _iter_keyed(scan, file, encoding)
    else:
        yield from _iter_values(scan, file, encoding)


def _first_member_is_object(scan: _JsonScanner) -> bool:
    """Look ahead (without consuming) at `{"key": {`: the layout of an object keyed by id."""
    scan.grow(JSON_CHUNK)
    match = _KEYED_START.match(scan.buf, scan.pos)
    return bool(match) and _is_json_string(match.group(1))


def _is_json_string(text: str) -> bool:
    try:
        return isinstance(json.loads(text), str)
    except ValueError:
        return False


def _iter_keyed(scan: _JsonScanner, file: str, encoding: str) -> Iterator[RawRecord]:
    scan.pos += 1  # '{'
    count = 0
    while True:
        if scan.peek() != '"':
            raise scan.fail(file, encoding, f"expected a key string after {count} members", records=count)
        try:
            key, _ = scan.value()
        except json.JSONDecodeError as e:
            raise scan.fail(file, encoding, f"a key: {e.msg}", e.pos, records=count) from None
        if scan.peek() != ":":
            raise scan.fail(file, encoding, f"expected ':' after key {key!r}", records=count)
        scan.pos += 1
        scan.peek()
        yield _next_value(scan, file, encoding, {"file": file, "key": key}, f"member {key!r}", records=count)
        count += 1
        if _closes(scan, file, encoding, "}", f"member {key!r}", count):
            return


def _iter_values(scan: _JsonScanner, file: str, encoding: str) -> Iterator[RawRecord]:
    count = 0
    while scan.peek():
        line, _ = scan.where(scan.pos)
        yield _next_value(scan, file, encoding, {"file": file, "line": line}, f"value {count}", records=count)
        count += 1


_CONTAINER_OF = {"]": "array", "}": "object"}


def _closes(scan: _JsonScanner, file: str, encoding: str, closer: str, after: str, count: int) -> bool:
    """Consume the ',' or the closing `closer` after one element or member; True when the array or object (and so
    the document, nothing may follow it) just ended."""
    sep = scan.peek()
    if sep == ",":
        scan.pos += 1
        return False
    if sep == closer:
        scan.pos += 1
        _expect_end(scan, file, encoding, _CONTAINER_OF[closer], count)
        return True
    raise scan.fail(file, encoding, f"expected ',' or '{closer}' after {after}", records=count)


def _expect_end(scan: _JsonScanner, file: str, encoding: str, what: str, count: int) -> None:
    if scan.peek():
        raise scan.fail(file, encoding, f"extra data after the JSON {what}", records=count)
