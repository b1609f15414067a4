"""Fixtures for build tests: a tiny JSONL source with every kind of bad input, and a recipe writer."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

WORDS = (
    "patient disease insulin glucose therapy trial outcome risk blood pressure cancer cell protein study results "
    "dose effect chronic acute fever infection antibiotic heart failure kidney liver lung stroke diabetes"
).split()


def make_text(rng: random.Random, n_words: int = 80) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words)).capitalize() + ". The findings were consistent."


def write_messy_source(folder: Path, n_good: int = 60, seed: int = 0) -> dict[str, int]:
    """Two JSONL files of documents plus one of each kind of bad input; returns what the build must count."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    texts = [make_text(rng) for _ in range(n_good)]
    near = texts[0].split()
    near[10] = "aspirin"  # one word changed in 80: a near duplicate of texts[0]
    with open(folder / "part-a.jsonl", "w", encoding="utf-8") as f:
        for i, text in enumerate(texts[: n_good // 2]):
            f.write(json.dumps({"id": f"a{i}" if not seed else f"s{seed}-a{i}", "text": text}) + "\n")
        f.write(json.dumps({"id": "exact-dup", "text": texts[1]}) + "\n")
        f.write(json.dumps({"id": "near-dup", "text": " ".join(near)}) + "\n")
        f.write(json.dumps({"id": "short", "text": "too short"}) + "\n")
        f.write('{"id": "no-text-field", "body": "x"}\n')
        f.write('{"id": "truncated", "text": "cut off in the mid\n')
    with open(folder / "part-b.jsonl", "wb") as f:
        for i, text in enumerate(texts[n_good // 2 :]):
            f.write((json.dumps({"id": f"b{i}" if not seed else f"s{seed}-b{i}", "text": text}) + "\n").encode())
        f.write('{"id": "gbk", "text": "糖尿病的治疗"}\n'.encode("gbk"))
        f.write((json.dumps({"id": "huge", "text": "x " * 4000}) + "\n").encode())
        f.write(b'{"id": "empty", "text": "   "}\n')
    (folder / "part-c.jsonl").write_text("")  # a 0-byte file: quarantined as a file, not counted as a record
    return {
        "input": n_good + 8,
        "kept": n_good,  # near-dup and exact-dup removed, originals kept
        "quarantined": 4,  # no-text-field, truncated, gbk, huge
        "dropped": {"exact_duplicate": 1, "near_duplicate": 1, "too_short": 1, "empty_text": 1},
        "quarantined_by_reason": {"missing_field": 1, "bad_json": 1, "bad_encoding": 1, "too_large": 1},
        "files_quarantined_by_reason": {"empty_file": 1},
    }


def write_recipe(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def messy_recipe(source_dir: Path, output: Path, **executor) -> dict:
    return {
        "name": "messy",
        "output": {"path": str(output)},
        "executor": {"type": "local", "tasks": 2, "workers": 1, **executor},
        "sources": {
            "web": {"reader": {"type": "read.jsonl", "path": str(source_dir), "max_record_bytes": 4000}},
        },
        "filters": [{"type": "clean.characters"}, {"type": "filter.length", "min_chars": 50}],
    }


@pytest.fixture(scope="session")
def messy_source(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    folder = tmp_path_factory.mktemp("messy-source")
    return folder, write_messy_source(folder)
