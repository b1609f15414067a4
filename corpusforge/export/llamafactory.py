"""LLaMA-Factory export: sharegpt and alpaca files per split, and the dataset_info.json that describes them.

    OUT/<name>_<split>.sharegpt.jsonl  {"conversations": [{"from": "human"|"gpt", "value"}...], "system"}
    OUT/<name>_<split>.alpaca.jsonl    {"instruction", "input": "", "output", "system", "history": [[q, a], ...]}
    OUT/dataset_info.json              entries `<name>_<split>` (sharegpt) and `<name>_<split>_alpaca`

Use it with `dataset_dir: OUT` and `dataset: <name>_train` (and `eval_dataset: <name>_validation`) in a
LLaMA-Factory training config. LLaMA-Factory reads JSON lines files directly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from corpusforge.export.dataset_reader import dataset_splits, iter_records, split_turns, write_jsonl
from corpusforge.output.dataset_dir import write_json_atomic

Layout = Literal["sharegpt", "alpaca"]


def sharegpt_row(record: dict[str, Any]) -> dict[str, Any]:
    system, turns = split_turns(record["messages"])
    conversations = []
    for user, assistant in turns:
        conversations += [{"from": "human", "value": user}, {"from": "gpt", "value": assistant}]
    return {"conversations": conversations, "system": system or ""}


def alpaca_row(record: dict[str, Any]) -> dict[str, Any]:
    system, turns = split_turns(record["messages"])
    *history, (instruction, output) = turns
    return {
        "instruction": instruction,
        "input": "",
        "output": output,
        "system": system or "",
        "history": [list(t) for t in history],
    }


def dataset_info_entry(file_name: str, layout: Layout) -> dict[str, Any]:
    if layout == "sharegpt":
        return {
            "file_name": file_name,
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
        }
    return {
        "file_name": file_name,
        "formatting": "alpaca",
        "columns": {
            "prompt": "instruction",
            "query": "input",
            "response": "output",
            "system": "system",
            "history": "history",
        },
    }


ROW_MAKERS = {"sharegpt": sharegpt_row, "alpaca": alpaca_row}


def export_llamafactory(
    dataset_dir: str | Path,
    out_dir: str | Path,
    name: str = "corpusforge",
    layouts: tuple[Layout, ...] = ("sharegpt", "alpaca"),
) -> dict[str, Any]:
    """Write the LLaMA-Factory files of every split of `dataset_dir` into `out_dir`; returns dataset_info.

    An existing dataset_info.json in `out_dir` keeps its other entries, so several corpusforge datasets (stage 2
    and stage 3) can share one LLaMA-Factory data folder.
    """
    out_dir = Path(out_dir)
    info_path = out_dir / "dataset_info.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
    for split, files in dataset_splits(dataset_dir).items():
        for layout in layouts:
            file_name = f"{name}_{split}.{layout}.jsonl"
            make = ROW_MAKERS[layout]
            write_jsonl(out_dir / file_name, (make(r) for r in iter_records(files)))
            entry = f"{name}_{split}" if layout == "sharegpt" else f"{name}_{split}_{layout}"
            info[entry] = dataset_info_entry(file_name, layout)
    write_json_atomic(info_path, info)
    return info
