"""axolotl export: chat-format JSON lines per split and a config snippet that trains on them.

    OUT/<name>_<split>.jsonl   {"messages": [{"role", "content"}, ...], "task_id": int}
    OUT/axolotl_datasets.yaml  `datasets:` (train) and `test_datasets:` (validation) entries of type
                               chat_template, to paste into an axolotl config

The records are OpenAI-style role/content messages, which axolotl's `chat_template` dataset type reads with
`field_messages: messages`; only assistant turns are trained on (`roles_to_train: [assistant]`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from corpusforge.export.dataset_reader import dataset_splits, iter_records, split_turns, write_jsonl
from corpusforge.output.dataset_dir import write_text_atomic

SNIPPET = "axolotl_datasets.yaml"


def chat_row(record: dict[str, Any]) -> dict[str, Any]:
    split_turns(record["messages"])  # the same shape check as the other exports
    return {"messages": [{"role": m["role"], "content": m["content"]} for m in record["messages"]],
            "task_id": record["task_id"]}  # fmt: skip


def dataset_entry(path: Path) -> dict[str, Any]:
    return {
        "path": str(path),
        "ds_type": "json",
        "type": "chat_template",
        "field_messages": "messages",
        "message_property_mappings": {"role": "role", "content": "content"},
        "roles_to_train": ["assistant"],
    }


def export_axolotl(dataset_dir: str | Path, out_dir: str | Path, name: str = "corpusforge") -> dict[str, Any]:
    """Write one JSONL file per split and the config snippet; returns the snippet as a dict."""
    out_dir = Path(out_dir)
    snippet: dict[str, Any] = {"chat_template": "tokenizer_default", "datasets": [], "test_datasets": []}
    for split, files in dataset_splits(dataset_dir).items():
        path = (out_dir / f"{name}_{split}.jsonl").resolve()
        write_jsonl(path, (chat_row(r) for r in iter_records(files)))
        if split == "train":
            snippet["datasets"].append(dataset_entry(path))
        elif split == "validation":
            snippet["test_datasets"].append({**dataset_entry(path), "split": "train"})
    if not snippet["test_datasets"]:
        del snippet["test_datasets"]
    header = "# axolotl dataset entries for the corpusforge export in this folder (paste into your config)\n"
    write_text_atomic(out_dir / SNIPPET, header + yaml.safe_dump(snippet, sort_keys=False, allow_unicode=True))
    return snippet
