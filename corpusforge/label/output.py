"""The label output directory, by the shared convention (corpusforge/output/dataset_dir.py):
data/train-NNNNN.parquet written chunk by chunk, quarantine/<task>/rejected.jsonl, then manifest.json and the card.

A new run clears the previous run's shards, manifest and card first (its work survives in the label cache), so
the directory never mixes two runs and a killed run leaves no manifest that looks finished.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from corpusforge.errors import ConfigError
from corpusforge.label.items import Quarantined
from corpusforge.output.card import card_metadata, markdown_table, render_card
from corpusforge.output.dataset_dir import (
    CARD,
    DATA_DIR,
    MANIFEST,
    QUARANTINE_DIR,
    STATE_DIR,
    output_folder_problem,
    split_files,
    write_json_atomic,
    write_text_atomic,
)

SPLIT = "train"
#: written first thing by every label run (it is also the run's lock): the folder is a label output from then on,
#: so a run killed before its cache or manifest exist (e.g. while the model loads) reruns as it was
LABEL_MARKER = "label.lock"


def check_label_directory(output_dir: str | Path) -> None:
    """Never clear a folder that is not a label output (a build output, a typo for a data folder...)."""
    out = Path(output_dir)
    if problem := output_folder_problem("run.output (--output)", out):
        raise ConfigError(problem)
    if not out.exists() or not any(out.iterdir()):
        return
    if (out / STATE_DIR / LABEL_MARKER).is_file() or (out / STATE_DIR / "label_cache.sqlite").is_file():
        return
    manifest = out / MANIFEST
    if manifest.is_file():
        try:
            if json.loads(manifest.read_text(encoding="utf-8")).get("kind") == "label":
                return
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
    raise ConfigError(
        f"run.output: {out} already holds something that is not a label output; "
        "choose another folder (a label run clears its folder's data/ first)"
    )


class LabelOutput:
    def __init__(self, output_dir: str | Path, task_name: str, arrow_schema: Any):
        self.dir = Path(output_dir)
        self.task_name = task_name
        self.schema = arrow_schema
        self.shards = 0
        self.rows = 0
        self._quarantine_file = None

    def start(self) -> None:
        check_label_directory(self.dir)
        for stale in (self.dir / DATA_DIR, self.dir / QUARANTINE_DIR):
            if stale.exists():
                shutil.rmtree(stale)
        for stale in (self.dir / MANIFEST, self.dir / CARD):
            stale.unlink(missing_ok=True)
        (self.dir / DATA_DIR).mkdir(parents=True, exist_ok=True)
        (self.dir / STATE_DIR).mkdir(parents=True, exist_ok=True)
        (self.dir / STATE_DIR / LABEL_MARKER).touch()

    def write_records(self, records: list[dict]) -> None:
        if not records:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(records, schema=self.schema)
        path = self.dir / DATA_DIR / f"{SPLIT}-{self.shards:05d}.parquet"
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table, tmp)
        tmp.replace(path)
        self.shards += 1
        self.rows += len(records)

    def quarantine(self, entry: Quarantined) -> None:
        """Keep a rejected input record with its location and reason (not part of the dataset)."""
        if self._quarantine_file is None:
            path = self.dir / QUARANTINE_DIR / self.task_name / "rejected.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._quarantine_file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run
        line = {"location": entry.location, "reason": entry.reason, "detail": entry.detail, "raw": entry.raw}
        self._quarantine_file.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        self._quarantine_file.flush()

    def close(self) -> None:
        if self._quarantine_file is not None:
            self._quarantine_file.close()
            self._quarantine_file = None

    def finish(self, manifest: dict[str, Any], card_sections: list[tuple[str, str]], title: str, intro: str) -> None:
        self.close()
        files = [
            {"path": rel, "split": split, "rows": _rows(self.dir / rel)}
            for split, rels in split_files(self.dir).items()
            for rel in rels
        ]
        manifest = {**manifest, "files": files, "rows_written": sum(f["rows"] for f in files)}
        manifest["written_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        write_json_atomic(self.dir / MANIFEST, manifest)
        meta = card_metadata(
            {"default": {SPLIT: f"{DATA_DIR}/{SPLIT}-*.parquet"}},
            output_dir=self.dir,
            license="other",
            language=["en"],
            tags=["corpusforge", "pseudo-labels", "pubmedqa", "medical"],
            task_categories=["question-answering"],
            pretty_name=title,
        )
        write_text_atomic(self.dir / CARD, render_card(meta, title, card_sections, intro=intro))


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def card_sections(summary: dict[str, Any], settings: dict[str, Any], lines: list[str]) -> list[tuple[str, str]]:
    dist = summary["label_distribution"]
    total = max(summary["labeled"], 1)
    sections = [
        ("Summary", "\n".join(f"- {line.strip()}" for line in lines if not line.startswith("WARNING"))),
        (
            "Labels",
            markdown_table(["label", "items", "share"], [[k, v, f"{v / total:.1%}"] for k, v in dist.items()]),
        ),
    ]
    if summary.get("warnings"):  # first, where nobody misses them
        sections.insert(0, ("Warnings", "\n".join(f"- **{w}**" for w in summary["warnings"])))
    answers = {k: v for k, v in summary.get("answers", {}).items() if v["generations"] or v["constrained"]}
    if answers:
        header = ["strategy", "stated by the reasoning", "by the answer request", "disagreements",
                  "free-text generations", "cut at max_tokens", "repetition loops"]  # fmt: skip
        rows = [[name, *a.values()] for name, a in answers.items()]
        sections.append(("Where the labels come from", markdown_table(header, rows)))
    if len(summary["per_strategy"]) > 1:
        header = ["strategy", *next(iter(summary["per_strategy"].values())).keys()]
        rows = [[name, *counts.values()] for name, counts in summary["per_strategy"].items()]
        sections.append(("Per strategy", markdown_table(header, rows)))
    sections.append(
        (
            "How it was labelled",
            markdown_table(["setting", "value"], [[k, f"`{v}`"] for k, v in settings.items()])
            + "\n\nFields: `label` (one of the options, or null), `confidence` (probability of the label, "
            "normalized over the options), `agreement` (fraction of strategies that chose it), `option_probs`, "
            "`strategies` (each strategy's steps: option explanations, verification, answers), "
            "`unlabeled_reason` and `raw_answer` for items without a label. Schema: `schemas/label.schema.json`.",
        )
    )
    sections.append(
        (
            "Loading",
            '```python\nfrom datasets import load_dataset\n\nds = load_dataset("path/to/this/folder", split="train")\n'
            'confident = ds.filter(lambda r: r["label"] is not None and r["confidence"] >= 0.8)\n```',
        )
    )
    return sections
