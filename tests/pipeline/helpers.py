"""Run a stage-1 reader the way the tests of tests/pipeline/ look at it."""

from __future__ import annotations

import json
from pathlib import Path

from datatrove.data import Document


def run_reader(reader, quarantine_dir: Path) -> tuple[list[Document], dict, list[dict]]:
    """Run `reader` to the end: its documents, its stats (name -> total) and the records it quarantined."""
    docs = list(reader.run())
    stats = {k: v.total for k, v in reader.stats.stats.items()}
    quarantine = [json.loads(line) for f in sorted(quarantine_dir.glob("*.jsonl")) for line in f.open()]
    return docs, stats, quarantine
