"""Keeping what could not be used: raw input, losslessly, in a per-task quarantine file of JSON lines."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from corpusforge.io.lone_surrogates import LONE_SURROGATE


class QuarantineWriter:
    """Writes quarantined raw records of one task to `<folder>/<rank>.jsonl`; opened on first use.

    The file is rewritten when a task is run again, so a resumed run never duplicates quarantine records.
    """

    def __init__(self, folder: str | Path | None):
        self.folder = Path(folder) if folder else None
        self._file = None
        self._rank = 0

    def set_rank(self, rank: int) -> None:
        self.close()
        self._rank = rank
        if self.folder is not None:
            stale = self.folder / f"{rank:05d}.jsonl"
            if stale.exists():
                stale.unlink()

    def write(self, record: dict[str, Any]) -> None:
        if self.folder is None:
            return
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = open(self.folder / f"{self._rank:05d}.jsonl", "w", encoding="utf-8")  # noqa: SIM115
        line = json.dumps(record, ensure_ascii=False)
        if LONE_SURROGATE.search(line):  # a lone surrogate in a location or message: escaped, still valid JSON
            line = json.dumps(record, ensure_ascii=True)
        self._file.write(line + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def raw_to_json(raw: bytes | str) -> tuple[str, str]:
    """Keep raw input losslessly in JSON: UTF-8 text as is, anything else base64-encoded."""
    if isinstance(raw, str):
        if not LONE_SURROGATE.search(raw):
            return raw, "text"
        raw = raw.encode("utf-8", "surrogatepass")
    try:
        return raw.decode("utf-8"), "text"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"
