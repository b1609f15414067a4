"""Run an adapter on a sample the way a build does, and look at what came out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datatrove.data import Document

from corpusforge.instruct.record import record_errors
from corpusforge.pipeline.registry import BuildContext, registered

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data" / "samples" / "instruct"


@dataclass
class ReadResult:
    docs: list[Document]
    stats: dict[str, int]
    quarantine: list[dict[str, Any]]

    @property
    def records(self) -> list[dict[str, Any]]:
        return [d.metadata["record"] for d in self.docs]

    def balanced(self) -> bool:
        """Every raw record ended kept, dropped (counted) or quarantined (counted)."""
        s = self.stats
        return s.get("records", 0) == len(self.docs) + s.get("dropped", 0) + s.get("quarantined", 0)


def read(name: str, tmp_path: Path, task_ids: dict[str, int] | None = None, **params) -> ReadResult:
    """Build the registered reader `name` from recipe-style params and run it to the end."""
    entry = registered("reader")[name]
    ctx = BuildContext(source=params.pop("source", "src"), output_dir=tmp_path / "out", work_dir=tmp_path / "work")
    if task_ids is not None:
        ctx.extra["task_ids"] = task_ids
    reader = entry.build(entry.params.model_validate({"type": name, **params}), ctx)
    docs = list(reader.run())
    stats = {k: v.total for k, v in reader.stats.stats.items()}
    quarantine = []
    for file in sorted(ctx.quarantine_dir.glob("*.jsonl")):
        quarantine += [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
    for doc in docs:
        assert record_errors(doc.metadata["record"]) == [], doc.metadata["record"]
        assert doc.id == doc.metadata["record"]["id"]
    return ReadResult(docs, stats, quarantine)
