"""Run an adapter on a sample the way a build does, and look at what came out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datatrove.data import Document

from corpusforge.formats.instruction import record_errors
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
    ctx = BuildContext(
        source=params.pop("source", "src"),
        output_dir=tmp_path / "out",
        work_dir=tmp_path / "work",
        license=params.pop("license", None),  # the source's `license:` in a recipe
    )
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


def records_from_samples(tmp: Path) -> list[dict[str, Any]]:
    """Instruction records from two adapters on the bundled samples (multiple choice and free-form)."""
    mc = read("instruct.medmcqa", tmp, path=str(SAMPLES / "medmcqa" / "train.json"), source="medmcqa").records
    qa = read("instruct.promptcblue", tmp, path=str(SAMPLES / "promptcblue" / "train.json"), source="pcb").records
    return mc + qa


def write_dataset_dir(out: Path, splits: dict[str, list[dict]], title: str = "test dataset") -> Path:
    """A built dataset dir like a stage-2 build writes: data/<split>/*.parquet, manifest.json, README.md card."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpusforge.instruct.output import arrow_schema
    from corpusforge.output.card import card_metadata, markdown_table, render_card

    for split, records in splits.items():
        (out / "data" / split).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(records, schema=arrow_schema()), out / "data" / split / "00000.parquet")
    manifest = {"recipe": "test", "totals": {split: len(r) for split, r in splits.items()}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    meta = card_metadata({"default": {s: f"data/{s}/*.parquet" for s in splits}}, license="apache-2.0")
    rows = [[s, len(r)] for s, r in splits.items()]
    card = render_card(meta, title, [("Splits", markdown_table(["split", "records"], rows))])
    (out / "README.md").write_text(card, encoding="utf-8")
    (out / "quarantine" / "src").mkdir(parents=True)
    (out / "quarantine" / "src" / "00000.jsonl").write_text('{"raw": "x"}\n')
    (out / ".corpusforge").mkdir()
    (out / ".corpusforge" / "state.json").write_text("{}")
    return out
