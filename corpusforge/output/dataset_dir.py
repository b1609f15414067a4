"""Reading and writing the parts of an output directory other than the data shards."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from corpusforge.io.lone_surrogates import LONE_SURROGATE

MANIFEST = "manifest.json"
CARD = "README.md"
STATE_DIR = ".corpusforge"
DATA_DIR = "data"
QUARANTINE_DIR = "quarantine"
IMAGES_DIR = "images"  # the card's plots (PNG), written by the report


def output_folder_problem(key: str, folder: str | Path) -> str | None:
    """Why `folder` cannot become an output folder (it, or a folder above it, is a file), as one line naming the
    recipe key; None when it can. Checked before anything is written, instead of an OS error from deep inside."""
    folder = Path(folder)
    for path in (folder, *folder.parents):
        if path.is_dir():
            return None
        if path.exists() or path.is_symlink():
            what = "is a file" if path == folder else f"is under {path}, which is a file"
            return f"{key}: {folder} {what}, not a folder; choose another output folder (nothing was written)"
    return None


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON so that a reader never sees half a file (a killed run leaves the old one or the new one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)
    if LONE_SURROGATE.search(text):  # a file name that was not UTF-8 (surrogate-escaped): \udcXX, still valid JSON
        text = json.dumps(data, indent=2, ensure_ascii=True, sort_keys=False)
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_text_atomic(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_manifest(output_dir: str | Path) -> dict[str, Any]:
    path = Path(output_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest; is {output_dir} a corpusforge output directory?")
    return json.loads(path.read_text(encoding="utf-8"))


def split_files(output_dir: str | Path) -> dict[str, list[str]]:
    """{split: [relative parquet paths]} under data/: `data/<split>/*.parquet` or `data/<split>-*.parquet`."""
    splits: dict[str, list[str]] = {}
    data = Path(output_dir) / DATA_DIR
    for path in sorted(data.rglob("*.parquet")):
        rel = path.relative_to(data)
        split = rel.parts[0] if len(rel.parts) > 1 else path.name.split("-", 1)[0]
        splits.setdefault(split, []).append(path.relative_to(output_dir).as_posix())
    return splits
