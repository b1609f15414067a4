"""Cutting a byte stream into lines in bounded memory, as a person counts them.

`for line in f` holds a whole line, however long (a 2 GB file with no newline is one 2 GB line), and knows only
`\\n`. Here a stream is read in chunks; a line break is `\\n`, `\\r\\n` or a lone `\\r` (old Mac files, some
spreadsheet exports: five records, not one); a line longer than `limit` bytes is never held whole: its first
`limit` bytes are kept and the rest is read past, counting, so the caller can quarantine it with its head, its
position and its true length.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

CHUNK = 1 << 20
_BREAK = re.compile(rb"\r\n?|\n")


@dataclass
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
    """Every line of `stream` (see the module docstring); memory stays under `limit + chunk` bytes."""
    read = getattr(stream, "read1", stream.read)
    buf = b""
    number, offset = 0, 0  # offset of buf[0] in the stream
    head: bytes | None = None  # the first `limit` bytes of a line that is being read past
    skipped = 0  # bytes of that line read past, beyond its head
    eof = False
    while True:
        pos = 0
        for match in _BREAK.finditer(buf):
            if match.group() == b"\r" and match.end() == len(buf) and not eof:
                break  # a `\r` at the end of the buffer may be the first half of `\r\n`: decide after the next read
            number += 1
            if head is None:
                length = match.start() - pos
                yield Line(number, offset + pos, buf[pos : pos + min(length, limit)], length)
            else:
                length = len(head) + skipped + match.start() - pos
                yield Line(number, offset + pos - len(head) - skipped, head, length)
                head, skipped = None, 0
            pos = match.end()
        buf, offset = buf[pos:], offset + pos
        if head is None and len(buf) > limit:
            head, skipped = buf[:limit], len(buf) - limit
            buf, offset = b"", offset + len(buf)
        elif head is not None:
            keep = 1 if buf.endswith(b"\r") else 0
            skipped += len(buf) - keep
            offset += len(buf) - keep
            buf = buf[len(buf) - keep :]
        if eof:
            if buf or head is not None:
                number += 1
                if head is None:
                    yield Line(number, offset, buf[:limit], len(buf))
                else:
                    yield Line(number, offset - len(head) - skipped, head, len(head) + skipped + len(buf))
            return
        data = read(chunk)
        if not data:
            eof = True
        buf += data
