"""`read.books`: medical books as plain text, Markdown or EPUB files, one document per book.

A book is one file (`.txt`, `.md`, `.markdown`, optionally compressed, or `.epub`: chapters in spine order as
Markdown, tables/figures/captions/navigation/footnotes removed by element, see epub.py). Line endings (LF, CR LF,
CR CR LF as Project Gutenberg ships, CR) are normalized to LF on reading. Its id is the file's path relative to the
source folder, so it stays stable when the folder moves. The whole file is one raw record: a book that is not
valid text in the configured encoding, contains NUL bytes (a binary file with a text extension), or is larger than
`max_record_bytes` is quarantined by the base reader; an empty book is a counted drop (`dropped_empty_text`).
Cleaning and chunking are separate steps (`books.strip_nontext`, `books.chunk`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import PurePosixPath

from corpusforge.io.input_records import MalformedRecord, ParsedRecord, RawRecord
from corpusforge.pipeline.licenses import gutenberg_license
from corpusforge.pipeline.readers.base import ReaderParams, SourceReader
from corpusforge.pipeline.readers.epub import epub_to_markdown
from corpusforge.pipeline.registry import register
from corpusforge.pipeline.steps.books.text import normalize_newlines

COMPRESSION_SUFFIXES = {".gz", ".bz2", ".xz", ".zst", ".lz4"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
BOOK_SUFFIXES = (".txt", ".md", ".markdown", ".epub")


def book_suffix(path: str) -> str:
    """The suffix that tells the format, looking through a compression suffix (`a.md.gz` -> `.md`)."""
    suffixes = [s.lower() for s in PurePosixPath(path).suffixes]
    while suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def relative_id(file: str, root: str) -> str:
    """A record id from a file path: relative to the source folder, with forward slashes."""
    return PurePosixPath(os.path.relpath(file, os.path.normpath(root))).as_posix()


@register("read.books", kind="reader")
class BooksReader(SourceReader):
    """Medical books (plain text / Markdown), one document per file."""

    unit = "books"

    class Params(ReaderParams):
        # files with other suffixes in the folder (images, PDFs, licences) are skipped and counted in
        # `skipped_files`; they are not records
        extensions: list[str] = list(BOOK_SUFFIXES)

    def __init__(self, *args, extensions: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.extensions = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in (extensions or BOOK_SUFFIXES)}

    def wanted(self, filepath: str) -> bool:
        if book_suffix(filepath) not in self.extensions:
            self.stat_update("skipped_files")
            return False
        return True

    def iter_raw(self, filepath: str) -> Iterator[RawRecord]:
        """The whole file as one record; at most `max_record_bytes + 1` bytes are read, so a huge file cannot
        exhaust memory (the base then quarantines it as too_large; the location says how much was read)."""
        location = {"file": self.display_path(filepath)}
        with self.open_input(filepath) as f:
            raw = f.read(self.max_record_bytes + 1)
        if len(raw) > self.max_record_bytes:
            location["read_bytes"] = len(raw)
        yield RawRecord(raw, location)

    def parse(self, record: RawRecord) -> ParsedRecord:
        file = record.location["file"]
        if book_suffix(file) == ".epub":
            return self.parse_epub(record)
        text = normalize_newlines(self.decode(record.raw).removeprefix("\ufeff"))
        if "\x00" in text:
            raise MalformedRecord("binary_file", "contains NUL bytes: not a text file (a PDF or word file renamed?)")
        metadata = {"format": "markdown" if book_suffix(file) in MARKDOWN_SUFFIXES else "text"}
        stated = gutenberg_license(text)  # read here: books.strip_nontext removes the notice later
        if stated:
            metadata["license"] = stated
        return ParsedRecord(text=text, id=relative_id(file, self.display_root), metadata=metadata)

    def parse_epub(self, record: RawRecord) -> ParsedRecord:
        """An EPUB's chapters in spine order as Markdown; what was removed structurally is counted per kind."""
        removed: Counter = Counter()
        raw = record.raw if isinstance(record.raw, bytes) else record.raw.encode()
        text = epub_to_markdown(raw, removed, self.max_record_bytes)
        for kind, n in removed.items():
            self.stat_update("epub_chapters" if kind == "chapters" else f"epub_removed_{kind}", value=n)
        return ParsedRecord(
            text=text,
            id=relative_id(record.location["file"], self.display_root),
            metadata={"format": "markdown", "container": "epub"},
        )
