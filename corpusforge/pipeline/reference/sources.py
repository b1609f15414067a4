"""A reference corpus read as (reference id, text) pairs, streaming, whatever its layout.

What a recipe may point `dedup.reference` at:

- a corpusforge output folder (`manifest.json` and `data/**/*.parquet`): its documents, by their `id`;
- parquet or JSON-lines files (`.parquet`, `.jsonl`, `.json` lines, optionally `.gz`), a folder of them or a glob;
- a folder written by `datasets.Dataset.save_to_disk`;
- a Hub dataset id (`hub:`), loaded by `datasets.load_dataset` (which also takes a local folder of data files).

A record without usable text (bad JSON, no text field, empty text) is skipped and counted by reason with its first
locations, and the counts go into the index's metadata and the card: a reference is read, not repaired. A reference
with no usable record at all is an error.
"""

from __future__ import annotations

import glob as globlib
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpusforge.errors import InputError, first_line
from corpusforge.sources_check import hub_problems

PARQUET_SUFFIXES = (".parquet",)
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson")
BATCH_ROWS = 1024
SKIP_EXAMPLES = 5  # locations kept per skip reason


@dataclass(frozen=True)
class ReferenceSpec:
    """Where a reference is and which fields hold its text and ids (the recipe's `path` or `hub` and keys)."""

    path: str | None = None
    hub: str | None = None
    split: str = "train"
    config: str | None = None
    revision: str | None = None
    text_key: str = "text"
    id_key: str = "id"

    @property
    def where(self) -> str:
        return f"hub dataset {self.hub}" if self.hub else str(self.path)


@dataclass
class Skipped:
    """Reference records that could not be used, by reason, with their first locations."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, location: str) -> None:
        self.counts[reason] += 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < SKIP_EXAMPLES:
            shown.append(location)

    def to_dict(self) -> dict[str, Any]:
        return {"by_reason": dict(sorted(self.counts.items())), "examples": self.examples}


class Reference:
    """One resolved reference: what it is (`label`), what identifies its content (`fingerprint`), its records."""

    kind = "?"

    def __init__(self, spec: ReferenceSpec):
        self.spec = spec
        self.skipped = Skipped()

    @property
    def label(self) -> str:
        raise NotImplementedError

    def fingerprint(self) -> dict[str, Any]:
        raise NotImplementedError

    def records(self) -> Iterator[tuple[str, str]]:
        raise NotImplementedError

    def _text(self, value: Any, location: str) -> str | None:
        if not isinstance(value, str):
            self.skipped.add("no_text" if value is None else "text_not_a_string", location)
            return None
        if not value.strip():
            self.skipped.add("empty_text", location)
            return None
        return value

    def _numbered_rows(self, batches: Iterator[tuple[list, list | None]], name: str) -> Iterator[tuple[str, str]]:
        """(id, text) of column batches (texts, ids or None); a row without an id is named `name:row N`."""
        row = 0
        for texts, ids in batches:
            for text, rid in zip(texts, ids if ids is not None else [None] * len(texts)):
                row += 1
                location = f"{name}:row {row}"
                text = self._text(text, location)
                if text is not None:
                    yield (str(rid) if rid is not None else location), text


def _file_stats(paths: list[Path]) -> list[list[Any]]:
    """Path, size and modification time of every file: a changed, added or removed file changes the key."""
    out = []
    for p in paths:
        st = p.stat()
        out.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
    return out


class FilesReference(Reference):
    """Parquet and JSON-lines files (a corpusforge output folder is parquet files under `data/`)."""

    def __init__(self, spec: ReferenceSpec, files: list[Path], kind: str):
        super().__init__(spec)
        self.files = files
        self.kind = kind

    @property
    def label(self) -> str:
        what = "corpusforge output" if self.kind == "corpusforge_output" else "files"
        return f"{what} {self.spec.path} ({len(self.files)} file{'s' if len(self.files) != 1 else ''})"

    def fingerprint(self) -> dict[str, Any]:
        return {"kind": self.kind, "files": _file_stats(self.files)}

    def check(self) -> None:
        """Every parquet file has the text column (its footer only is read); JSONL is checked as it is read."""
        import pyarrow.parquet as pq

        for path in self.files:
            if path.name.endswith(PARQUET_SUFFIXES):
                try:
                    columns = pq.read_schema(path).names
                except Exception as e:
                    raise InputError(f"{path}: not a readable parquet file ({first_line(e)})") from None
                if self.spec.text_key not in columns:
                    raise InputError(
                        f"{path}: no column {self.spec.text_key!r} (columns: {', '.join(columns)}); set text_key"
                    )

    def records(self) -> Iterator[tuple[str, str]]:
        base = _common_base(self.files)
        for path in self.files:
            name = os.path.relpath(path, base) if base else path.name
            if path.name.endswith(PARQUET_SUFFIXES):
                yield from self._parquet(path, name)
            else:
                yield from self._jsonl(path, name)

    def _parquet(self, path: Path, name: str) -> Iterator[tuple[str, str]]:
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except Exception as e:
            raise InputError(f"{path}: not a readable parquet file ({first_line(e)})") from None
        columns = pf.schema_arrow.names
        if self.spec.text_key not in columns:
            raise InputError(
                f"{path}: no column {self.spec.text_key!r} (columns: {', '.join(columns)}); set text_key"
            )
        wanted = [self.spec.text_key] + ([self.spec.id_key] if self.spec.id_key in columns else [])
        batches = (
            (
                b.column(self.spec.text_key).to_pylist(),
                b.column(self.spec.id_key).to_pylist() if len(wanted) == 2 else None,
            )
            for b in pf.iter_batches(batch_size=BATCH_ROWS, columns=wanted)
        )
        yield from self._numbered_rows(batches, name)

    def _jsonl(self, path: Path, name: str) -> Iterator[tuple[str, str]]:
        import gzip

        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                location = f"{name}:{line_no}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    self.skipped.add("bad_json", location)
                    continue
                if not isinstance(record, dict):
                    self.skipped.add("not_an_object", location)
                    continue
                text = self._text(record.get(self.spec.text_key), location)
                if text is not None:
                    rid = record.get(self.spec.id_key)
                    yield (str(rid) if rid is not None else location), text


class DatasetReference(Reference):
    """A `datasets` dataset: a folder from `save_to_disk`, or `load_dataset(hub id or data folder)`.

    Both are Arrow files on disk read in batches, so memory stays bounded however large the reference is."""

    def __init__(self, spec: ReferenceSpec, dataset, kind: str, folder: Path | None = None):
        super().__init__(spec)
        self.dataset = dataset
        self.kind = kind
        self.folder = folder
        if spec.text_key not in dataset.column_names:
            raise InputError(
                f"{spec.where}: no column {spec.text_key!r} (columns: {', '.join(dataset.column_names)}); "
                "set text_key"
            )

    @property
    def label(self) -> str:
        what = "dataset saved by datasets" if self.kind == "saved_dataset" else "Hub dataset"
        return f"{what} {self.spec.where} (split {self.spec.split}, {self.dataset.num_rows} rows)"

    def fingerprint(self) -> dict[str, Any]:
        if self.folder is not None:
            files = sorted(p for p in self.folder.rglob("*") if p.is_file())
        else:
            files = sorted(Path(f["filename"]) for f in self.dataset.cache_files)
        # datasets' own fingerprint names the builder, config and data files; the cache files' stats the content
        return {"kind": self.kind, "fingerprint": self.dataset._fingerprint, "files": _file_stats(files)}

    def records(self) -> Iterator[tuple[str, str]]:
        has_ids = self.spec.id_key in self.dataset.column_names
        columns = [self.spec.text_key] + ([self.spec.id_key] if has_ids else [])
        batches = (
            (b[self.spec.text_key], b[self.spec.id_key] if has_ids else None)
            for b in self.dataset.select_columns(columns).iter(batch_size=BATCH_ROWS)
        )
        yield from self._numbered_rows(batches, self.spec.split)


def _common_base(files: list[Path]) -> str | None:
    try:
        return os.path.commonpath([str(p.parent) for p in files])
    except ValueError:
        return None


def _data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name.endswith(PARQUET_SUFFIXES + JSONL_SUFFIXES))


def is_saved_dataset(folder: Path) -> bool:
    """A `save_to_disk` folder: a dataset's `state.json` and `dataset_info.json` beside its Arrow files."""
    return (folder / "state.json").is_file() and (folder / "dataset_info.json").is_file()


def is_corpusforge_output(folder: Path) -> bool:
    return (folder / "manifest.json").is_file() and (folder / "data").is_dir()


def problems(spec: ReferenceSpec, where: str) -> list[str]:
    """What is wrong with a reference before anything is read (the recipe check); [] when it can be opened."""
    if spec.hub:
        local = Path(spec.hub)
        if local.is_dir():
            return (
                [] if _data_files(local) else [f"{where}.hub: {spec.hub}: no parquet or JSONL files in this folder"]
            )
        return hub_problems(f"{where}.hub", spec.hub, "dataset", "a local reference file or folder")
    assert spec.path is not None
    try:
        reference = _resolve_path(spec)
        if isinstance(reference, FilesReference):
            reference.check()
    except InputError as e:
        return [f"{where}.path: {e}"]
    return []


def _resolve_path(spec: ReferenceSpec) -> Reference:
    raw = spec.path or ""
    path = Path(raw)
    if globlib.has_magic(raw):
        files = sorted(Path(p) for p in globlib.glob(raw, recursive=True) if os.path.isfile(p))
        unsupported = [p for p in files if not p.name.endswith(PARQUET_SUFFIXES + JSONL_SUFFIXES)]
        if not files:
            raise InputError(f"{raw}: no file matches this pattern")
        if unsupported:
            raise InputError(f"{unsupported[0]}: unsupported reference file (give .parquet or .jsonl[.gz] files)")
        return FilesReference(spec, files, "files")
    if not path.exists():
        raise InputError(f"{raw}: file or folder not found")
    if path.is_file():
        if not path.name.endswith(PARQUET_SUFFIXES + JSONL_SUFFIXES):
            raise InputError(
                f"{raw}: unsupported reference file (give .parquet or .jsonl[.gz] files, a folder of them, "
                "a corpusforge output folder, a folder saved by datasets, or hub: a dataset id)"
            )
        return FilesReference(spec, [path], "files")
    if is_saved_dataset(path):
        return _saved_dataset(spec, path)
    if is_corpusforge_output(path):
        files = sorted((path / "data").rglob("*.parquet"))
        if not files:
            raise InputError(f"{raw}: a corpusforge output folder with no parquet files under data/")
        return FilesReference(spec, files, "corpusforge_output")
    files = _data_files(path)
    if not files:
        raise InputError(
            f"{raw}: no parquet or JSONL files in this folder (nor a corpusforge output or a saved dataset)"
        )
    return FilesReference(spec, files, "files")


def _saved_dataset(spec: ReferenceSpec, folder: Path) -> Reference:
    import datasets

    try:
        ds = datasets.load_from_disk(str(folder))
    except Exception as e:
        raise InputError(f"{folder}: not a readable saved dataset ({first_line(e)})") from None
    if isinstance(ds, datasets.DatasetDict):
        if spec.split not in ds:
            raise InputError(f"{folder}: no split {spec.split!r} (splits: {', '.join(ds)}); set split")
        ds = ds[spec.split]
    return DatasetReference(spec, ds, "saved_dataset", folder=folder)


def _hub_dataset(spec: ReferenceSpec) -> Reference:
    import datasets

    try:
        ds = datasets.load_dataset(spec.hub, name=spec.config, split=spec.split, revision=spec.revision)
    except Exception as e:
        offline = " (HF_HUB_OFFLINE is set: download it first, or give a local path)" if _offline() else ""
        raise InputError(f"hub dataset {spec.hub}: cannot be loaded{offline}: {first_line(e)}") from None
    return DatasetReference(spec, ds, "hub")


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def open_reference(spec: ReferenceSpec) -> Reference:
    """The reference a spec names, ready to fingerprint and read; InputError (one line) when it cannot be."""
    if spec.hub:
        return _hub_dataset(spec)
    return _resolve_path(spec)
