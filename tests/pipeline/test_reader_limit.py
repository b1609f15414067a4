"""`limit` on a corpusforge reader keeps the balance: no record is read past the limit and then discarded."""

from __future__ import annotations

import json

from corpusforge.pipeline.readers.jsonl import JsonlTextReader


def test_limit_reads_exactly_limit_records(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"id": str(i), "text": f"document number {i}"}) + "\n" for i in range(100)))
    reader = JsonlTextReader(str(path), source="docs", quarantine_dir=tmp_path / "q", limit=40)
    docs = list(reader.run(rank=0, world_size=1))
    assert len(docs) == 40
    assert reader.stats["records"].total == 40  # every record read is handed on: input = kept
