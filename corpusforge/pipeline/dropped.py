"""A bounded sample of what a build dropped, per source, step and reason, for the report's bad-case browser.

Drops are counted by reason in datatrove's stats (that is the accounting); this keeps a few examples of each reason
so a user can see what a filter threw away and judge it. Each task writes at most `per_reason` records per reason
to `OUTPUT/.corpusforge/dropped_samples/<source>/<rank>-<step>.jsonl`, with the text cut to `max_chars`: a build of
millions of documents keeps a few hundred kilobytes. The file of a task is rewritten when the task runs again.

The same object serves as a datatrove filter's `exclusion_writer` (`with writer: writer.write(doc, rank)`, the reason
in `doc.metadata["filter_reason"]`) and as a reader's record of raw records it dropped (`add_raw`).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

DROPPED_SAMPLES_DIR = "dropped_samples"  # under OUTPUT/.corpusforge/
PER_REASON = 20
MAX_CHARS = 2000


class DroppedSamples:
    """Keeps the first `per_reason` dropped records of each reason of one step in one task."""

    def __init__(
        self,
        folder: str | Path,
        step: str,
        default_reason: str | None = None,
        per_reason: int = PER_REASON,
        max_chars: int = MAX_CHARS,
    ):
        self.folder = Path(folder)
        self.step = step
        self.default_reason = default_reason or step
        self.per_reason = per_reason
        self.max_chars = max_chars
        self._rank = 0
        self._file = None
        self._counts: Counter = Counter()

    # datatrove's exclusion-writer protocol
    def __enter__(self) -> DroppedSamples:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def write(self, document, rank: int = 0, **_: Any) -> None:
        meta = dict(document.metadata or {})
        reason = meta.pop("filter_reason", None) or self.default_reason
        self._add(
            rank,
            {
                "source": meta.get("source"),
                "step": self.step,
                "reason": reason,
                "id": document.id,
                "text": document.text,
                "location": meta.get("provenance"),
                "match": meta.get("decontam_match"),  # what a decontamination step matched, where it says
            },
        )

    # readers: a well-formed record left out on purpose, kept raw
    def add_raw(self, rank: int, source: str, reason: str, raw: str, location: dict[str, Any]) -> None:
        self._add(
            rank,
            {"source": source, "step": self.step, "reason": reason, "id": None, "text": raw, "location": location},
        )

    def _add(self, rank: int, record: dict[str, Any]) -> None:
        if rank != self._rank or self._file is None and not self._counts:
            self._start(rank)
        if self._counts[record["reason"]] >= self.per_reason:
            return
        self._counts[record["reason"]] += 1
        text = record["text"] or ""
        record["chars"] = len(text)
        record["text"] = text[: self.max_chars]
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path(rank), "w", encoding="utf-8")  # noqa: SIM115 - open for the whole task
        self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")

    def path(self, rank: int) -> Path:
        return self.folder / f"{rank:05d}-{self.step}.jsonl"

    def _start(self, rank: int) -> None:
        self.close()
        self._rank = rank
        self._counts = Counter()
        self.path(rank).unlink(missing_ok=True)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __getstate__(self) -> dict[str, Any]:  # pickled to the executor's workers before any file is open
        return {**self.__dict__, "_file": None, "_counts": Counter()}


def read_dropped_samples(state_dir: Path) -> list[dict[str, Any]]:
    """Every kept dropped record of a build (OUTPUT/.corpusforge), in file order."""
    folder = Path(state_dir) / DROPPED_SAMPLES_DIR
    records = []
    for path in sorted(folder.rglob("*.jsonl")) if folder.is_dir() else []:
        with open(path, encoding="utf-8") as f:
            records += [json.loads(line) for line in f if line.strip()]
    return records
