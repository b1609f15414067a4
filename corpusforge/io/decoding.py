"""A file's bytes as text without losing any, for the cutters of every layout.

Files are opened by an `Opener` (a callable giving a context manager over the decompressed bytes), decoded with
`surrogateescape`, so bytes invalid in the encoding survive: a record holding them is quarantined on its own with
its original bytes (`to_raw_bytes`). A UTF-16/32 file read as UTF-8 is said once, as a file (`check_utf16`).
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import IO

from corpusforge.io.input_records import MalformedFile

Opener = Callable[[], AbstractContextManager[IO[bytes]]]


def has_escaped_bytes(text: str) -> int:
    """Index of the first byte kept by surrogateescape (invalid in the file's encoding), or -1."""
    for i, ch in enumerate(text):
        if "\udc80" <= ch <= "\udcff":
            return i
    return -1


def to_raw_bytes(text: str, encoding: str) -> bytes:
    """The original bytes of text decoded with surrogateescape."""
    try:
        return text.encode(encoding, "surrogateescape")
    except (UnicodeEncodeError, LookupError):
        return text.encode("utf-8", "surrogatepass")


def text_stream(f: IO[bytes], encoding: str) -> io.TextIOWrapper:
    """The bytes as text: bytes invalid in `encoding` kept (surrogateescape), line ends as written."""
    return io.TextIOWrapper(f, encoding=encoding, errors="surrogateescape", newline="")


def check_utf16(head: bytes, file: str, encoding: str = "utf-8") -> None:
    """A UTF-16/32 byte order mark in a file read as UTF-8: every line would be garbage, so say it once, as a file."""
    if codecs.lookup(encoding).name not in ("utf-8", "utf-8-sig") or not head.startswith(
        (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    ):
        return
    kind = "UTF-32" if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) else "UTF-16"
    raise MalformedFile(
        "bad_encoding",
        f"the file is {kind} (byte order mark {head[:2].hex(' ').upper()}), not UTF-8; set `encoding: "
        f"{kind.lower()}` in the recipe or convert it",
        {"file": file, "offset": 0},
    )
