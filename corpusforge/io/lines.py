"""Cutting a byte stream into lines in bounded memory, as a person counts them.

`for line in f` holds a whole line, however long (a 2 GB file with no newline is one 2 GB line), and knows only
`\\n`. Here a stream is read in chunks; a line break is `\\n`, `\\r\\n` or a lone `\\r` (old Mac files, some
spreadsheet exports: five records, not one); a line longer than `limit` bytes is never held whole: its first
`limit` bytes are kept and the rest is read past, counting, so the caller can quarantine it with its head, its
position and its true length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

CHUNK = 1 << 20


@dataclass(slots=True)
class Line:
    """One line without its ending: `data` is the whole line, or its first `limit` bytes when `length` > limit."""

    number: int  # 1-based
    offset: int  # byte offset of the line's start in the (decompressed) stream
    data: bytes
    length: int  # the line's true length in bytes

    @property
    def oversized(self) -> bool:
        return self.length > len(self.data)


def iter_lines(stream: IO[bytes], limit: int, chunk: int = CHUNK) -> Iterator[Line]:
    """Every line of `stream` (see the module docstring); memory stays under about `2 * limit + chunk` bytes.

    Line breaks are found with `bytes.find` (memchr), each byte looked at once: a 2 GB line costs a read, not a
    rescan of a growing buffer."""
    read = getattr(stream, "read1", stream.read)
    buf = bytearray()
    number, offset = 0, 0  # offset: of buf[0] in the stream
    head: bytes | None = None  # the first `limit` bytes of a line that is being read past
    skipped = 0  # bytes of that line read past, beyond its head
    scan = 0  # buf[:scan] holds no line break (after the last line cut)
    eof = False
    while True:
        pos = 0
        lf, cr = buf.find(b"\n", scan), buf.find(b"\r", scan)
        if cr == -1 and lf != -1 and head is None:  # LF only (the common case): split at C speed
            last = buf.rfind(b"\n")
            for piece in bytes(buf[:last]).split(b"\n"):
                number += 1
                yield Line(number, offset + pos, piece[:limit] if len(piece) > limit else piece, len(piece))
                pos += len(piece) + 1
            lf = -1
        while lf != -1 or cr != -1:
            if cr != -1 and (lf == -1 or cr < lf):
                if cr + 1 == len(buf) and not eof:
                    break  # a `\r` at the end of the buffer may be the first half of `\r\n`: decide after a read
                start, end = cr, cr + 2 if cr + 1 < len(buf) and buf[cr + 1] == 10 else cr + 1
            else:
                start, end = lf, lf + 1
            number += 1
            if head is None:
                length = start - pos
                yield Line(number, offset + pos, bytes(buf[pos : pos + min(length, limit)]), length)
            else:
                length = len(head) + skipped + start - pos
                yield Line(number, offset + pos - len(head) - skipped, head, length)
                head, skipped = None, 0
            pos = end
            if lf != -1 and lf < end:
                lf = buf.find(b"\n", end)
            if cr != -1 and cr < end:
                cr = buf.find(b"\r", end)
        del buf[:pos]
        offset += pos
        if head is None and len(buf) > limit:  # a line longer than the limit: keep its head, read past the rest
            head, skipped = bytes(buf[:limit]), 0
            del buf[:limit]
            offset += limit
        if head is not None:
            keep = 1 if buf.endswith(b"\r") else 0  # maybe the first half of the `\r\n` that ends the line
            skipped += len(buf) - keep
            offset += len(buf) - keep
            del buf[: len(buf) - keep]
        scan = len(buf) - (1 if buf.endswith(b"\r") else 0)
        if eof:
            if buf or head is not None:
                number += 1
                if head is None:
                    yield Line(number, offset, bytes(buf[:limit]), len(buf))
                else:
                    yield Line(number, offset - len(head) - skipped, head, len(head) + skipped + len(buf))
            return
        data = read(chunk)
        if not data:
            eof = True
        buf += data
