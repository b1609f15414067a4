"""What a file really is, from its first bytes: a file whose content does not match its reader (a spreadsheet
saved as `.csv`, a zip or PDF named `.txt`) is quarantined as a file naming what it is, instead of being cut into
garbage records or, worse, into none at all.

Only definite signatures (magic numbers) are recognised; anything else is left to the reader, which cuts text
and quarantines what does not parse.
"""

from __future__ import annotations

SNIFF_BYTES = 1 << 16  # how much of a file's start is looked at

# (signature at offset 0, what it is, the kind a reader may expect)
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Microsoft Office file (.xls/.doc)", "ole2"),
    (b"%PDF-", "a PDF document", "pdf"),
    (b"\x1f\x8b", "gzip-compressed data", "gzip"),
    (b"\xfd7zXZ\x00", "xz-compressed data", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data", "zstd"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "7z"),
    (b"Rar!\x1a\x07", "a RAR archive", "rar"),
    (b"PAR1", "a parquet file", "parquet"),
    (b"SQLite format 3\x00", "an SQLite database", "sqlite"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", "image"),
    (b"\xff\xd8\xff", "a JPEG image", "image"),
    (b"GIF87a", "a GIF image", "image"),
    (b"GIF89a", "a GIF image", "image"),
    (b"\x7fELF", "an executable (ELF)", "executable"),
)
_ZIP_KINDS = (
    (b"mimetypeapplication/epub+zip", "an EPUB book", "epub"),
    (b"xl/", "an Excel workbook (.xlsx)", "zip"),
    (b"word/", "a Word document (.docx)", "zip"),
    (b"ppt/", "a PowerPoint file (.pptx)", "zip"),
    (b"content.xml", "an OpenDocument file (.ods/.odt)", "zip"),
)


def sniff(head: bytes) -> tuple[str, str] | None:
    """(what the bytes are, in words; a short kind) for a known binary format, else None (text or unknown)."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        for marker, what, kind in _ZIP_KINDS:
            if marker in head:
                return what, kind
        return "a zip archive", "zip"
    if head.startswith(b"BZh") and head[4:10] == b"1AY&SY":
        return "bzip2-compressed data", "bzip2"
    for signature, what, kind in _SIGNATURES:
        if head.startswith(signature):
            return what, kind
    if head[257:262] == b"ustar":
        return "a tar archive", "tar"
    return None
