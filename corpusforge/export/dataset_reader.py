"""Reading the instruction records of a built dataset directory, split by split, without loading it whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from corpusforge.errors import InputError
from corpusforge.output.dataset_dir import split_files


def dataset_splits(dataset_dir: str | Path) -> dict[str, list[Path]]:
    """{split: parquet files}; InputError when `dataset_dir` holds no instruction records."""
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise InputError(f"{dataset_dir}: not a directory (expected a corpusforge output directory)")
    splits = {split: [dataset_dir / p for p in paths] for split, paths in split_files(dataset_dir).items()}
    if not splits:
        raise InputError(f"{dataset_dir}: no data/<split>/*.parquet files (is this a built dataset?)")
    return splits


def iter_records(files: list[Path], batch_size: int = 1024) -> Iterator[dict[str, Any]]:
    """Instruction records of parquet files, batch by batch; files of another kind are an InputError."""
    import pyarrow.parquet as pq

    for file in files:
        parquet = pq.ParquetFile(file)
        if "messages" not in parquet.schema_arrow.names:
            raise InputError(f"{file}: no `messages` column; exports need an instruction dataset (stage 2/3)")
        for batch in parquet.iter_batches(batch_size=batch_size):
            yield from batch.to_pylist()


def write_jsonl(path: Path, rows: Iterator[dict[str, Any]]) -> int:
    """Write rows as JSON lines (atomically: a killed export never leaves half a file); returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


def split_turns(messages: list[dict[str, str]]) -> tuple[str | None, list[tuple[str, str]]]:
    """(system prompt, [(user, assistant), ...]) of a chat; the turns must alternate user/assistant."""
    system = None
    turns = list(messages)
    if turns and turns[0]["role"] == "system":
        system = turns.pop(0)["content"]
    if len(turns) % 2 or any(m["role"] != ("user" if i % 2 == 0 else "assistant") for i, m in enumerate(turns)):
        roles = [m["role"] for m in messages]
        raise ValueError(f"messages must alternate user/assistant after an optional system prompt, got {roles}")
    return system, [(turns[i]["content"], turns[i + 1]["content"]) for i in range(0, len(turns), 2)]
