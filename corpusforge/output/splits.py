"""Open a split of what `corpusforge build` wrote: a dataset directory, a single file, or a Hub dataset id.

Training (train/data) and evaluation (corpusforge/eval) read their data by the same rules."""

from __future__ import annotations

from pathlib import Path

from corpusforge.errors import InputError
from corpusforge.output.dataset_dir import split_files

FILE_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


def load_split(path: str, split: str, max_rows: int | None = None):
    """One split as a `datasets.Dataset`.

    A local directory written by the build is read from its data/<split>-*.parquet shards by absolute path (the
    cache of `datasets.load_dataset(DIR)` is keyed by the folder's name and the card's relative patterns, so a
    rebuilt or another folder of the same name would be served stale rows); a single .jsonl/.parquet file is the
    whole split; anything else is tried as a Hub dataset id.
    """
    import datasets  # not at import time: the build and label commands never need it

    local = Path(path)
    try:
        shards = split_files(local) if local.is_dir() else {}
        if shards:
            if split not in shards:
                raise InputError(f"{path}: no split {split!r}; it has {sorted(shards)}")
            files = [str((local / f).resolve()) for f in shards[split]]
            ds = datasets.load_dataset("parquet", data_files=files, split="train")
        elif local.is_file():
            builder = FILE_BUILDERS.get(local.suffix)
            if builder is None:
                raise InputError(f"{path}: unsupported file type (use {', '.join(FILE_BUILDERS)}) or a folder")
            ds = datasets.load_dataset(builder, data_files=str(local), split="train")
        else:
            if not local.exists() and ("/" not in path or path.startswith((".", "/"))):
                raise InputError(f"{path}: no such dataset directory")
            ds = datasets.load_dataset(str(local) if local.exists() else path, split=split)
    except InputError:
        raise
    except ValueError as e:  # unknown split: datasets names the ones it has
        raise InputError(f"{path}: cannot read split {split!r}: {e}") from None
    except (FileNotFoundError, datasets.exceptions.DatasetNotFoundError) as e:
        raise InputError(f"{path}: dataset not found ({e})") from None
    if max_rows is not None and len(ds) > max_rows:
        ds = ds.select(range(max_rows))
    return ds


def require_columns(ds, columns: list[str], path: str, split: str) -> None:
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise InputError(f"{path} [{split}]: missing column(s) {missing}; the split has {ds.column_names}")
