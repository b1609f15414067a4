"""Compressed input that cannot be trusted: bombs and damaged streams.

- `GuardedStream` counts the decompressed bytes of one file as they are read and stops the file (a
  `MalformedFile`, so it is quarantined with its head and the position reached) when it inflates past
  `max_file_bytes`, or past `max_compression_ratio` times its size on disk once more than `RATIO_FLOOR` bytes came
  out: a 3 MB gzip that inflates to 3 GB is stopped after 256 MiB of reading, whatever the reader does with it.
- `verify_stream` reads a compressed file to its end once, before any record is taken from it. gzip checks its
  CRC only at the end of a member, so 8 damaged bytes in the middle would otherwise become hundreds of garbled
  records before the error shows; a stream that fails its check is quarantined whole, and one that is cut short
  (its records before the cut are intact) is read up to the cut.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO

from corpusforge.io.input_records import MalformedFile

RATIO_FLOOR = 256 * 2**20  # decompressed bytes always allowed before the ratio guard applies
DEFAULT_MAX_COMPRESSION_RATIO = 200.0  # text compresses 3-10x, very repetitive JSON ~50x; deflate's limit is ~1032x
VERIFY_CHUNK = 1 << 20


@dataclass
class InflateLimits:
    """How far one input file may inflate: None is no limit."""

    max_file_bytes: int | None = None
    max_compression_ratio: float | None = DEFAULT_MAX_COMPRESSION_RATIO


class GuardedStream(io.RawIOBase):
    """A decompressed stream that raises `MalformedFile` once it grows past its limits (see the module docstring)."""

    def __init__(self, inner: IO[bytes], compressed_size: int | None, limits: InflateLimits):
        super().__init__()
        self.inner, self.compressed_size, self.limits = inner, compressed_size, limits
        # read1: what is there now; gzip's read(n) would decompress to its end and lose it all on a truncation
        self._read = getattr(inner, "read1", inner.read)
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.total += n
        self.check()
        return n

    def check(self) -> None:
        limits = self.limits
        if limits.max_file_bytes is not None and self.total > limits.max_file_bytes:
            raise MalformedFile(
                "file_too_large",
                f"decompressed to more than max_file_bytes={limits.max_file_bytes} bytes; the rest is not read",
                {"offset": self.total},
            )
        ratio = limits.max_compression_ratio
        size = self.compressed_size
        if ratio is not None and size and self.total > RATIO_FLOOR and self.total > ratio * size:
            raise MalformedFile(
                "decompression_bomb",
                f"inflates more than {ratio:g}x its {size} bytes on disk ({self.total} bytes read): a decompression "
                "bomb? the rest is not read (raise `max_compression_ratio` if the file is genuine)",
                {"offset": self.total},
            )

    def close(self) -> None:
        if not self.closed:
            self.inner.close()
        super().close()


def guarded(inner: IO[bytes], compressed_size: int | None, limits: InflateLimits) -> IO[bytes]:
    """`inner` behind the limits, as a buffered binary stream (read, read1, readline, peek)."""
    return io.BufferedReader(GuardedStream(inner, compressed_size, limits), buffer_size=1 << 16)


@dataclass
class StreamProblem:
    """Why a compressed stream cannot be trusted: `truncated` (cut short: what came before is intact) or
    `damaged` (fails its integrity check, or is not valid compressed data)."""

    kind: str
    error: Exception
    offset: int  # decompressed bytes read before the problem showed


def verify_stream(opener: Callable[[], AbstractContextManager[IO[bytes]]]) -> StreamProblem | None:
    """Read a decompressed stream to its end in bounded pieces; None when it is whole and intact. A file over its
    inflate limits raises MalformedFile (the caller quarantines it)."""
    offset = 0
    try:
        with opener() as f:
            while True:
                chunk = f.read(VERIFY_CHUNK)
                if not chunk:
                    return None
                offset += len(chunk)
    except MalformedFile:
        raise
    except EOFError as e:  # "Compressed file ended before the end-of-stream marker was reached"
        return StreamProblem("truncated", e, offset)
    except Exception as e:  # BadGzipFile (CRC, not gzip), zlib.error, lzma/bz2/zstd errors
        return StreamProblem("damaged", e, offset)
