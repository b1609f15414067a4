"""Reference indexes computed once and reused across builds, keyed by the reference's content and the parameters.

The key is a hash of the reference's fingerprint (every file's path, size and modification time, or the datasets
fingerprint and cache files of a Hub dataset), the signature parameters and the index format. A reference that
changes gets a new key, so it is indexed again; an unchanged one is opened as it is. An entry is immutable once
written: it is built in a temporary folder under a lock (the tasks of a build, or two builds, wait for the one
that builds it) and renamed into place when complete, so a killed build never leaves half an index behind.

The cache lives in `cache_dir` (the step's parameter), else `$CORPUSFORGE_CACHE/reference`, else
`~/.cache/corpusforge/reference` (`$XDG_CACHE_HOME` respected). Old entries are not pruned: delete the folder to
reclaim the space.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpusforge.pipeline.reference.index import INDEX_VERSION, META, IndexParams, ReferenceIndex, build_index
from corpusforge.pipeline.reference.sources import Reference

CACHE_ENV = "CORPUSFORGE_CACHE"


def cache_root(cache_dir: str | None = None) -> Path:
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser() / "reference"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "corpusforge" / "reference"


def index_key(reference: Reference, params: IndexParams) -> str:
    spec = reference.spec
    identity: dict[str, Any] = {
        "version": INDEX_VERSION,
        "content": reference.fingerprint(),
        "fields": [spec.text_key, spec.id_key, spec.split, spec.config, spec.revision],
        "params": params.to_dict(),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]


@dataclass
class Obtained:
    index: ReferenceIndex
    key: str
    built: bool  # False: found in the cache
    seconds: float  # building, or waiting for and opening


def obtain_index(reference: Reference, params: IndexParams, min_similarity: float, cache_dir: str | None) -> Obtained:
    """The reference's index from the cache, built first when it is not there."""
    started = time.monotonic()
    root = cache_root(cache_dir)
    key = index_key(reference, params)
    folder = root / key
    scratch = root / "_scratch"
    built = False
    if not (folder / META).is_file():
        root.mkdir(parents=True, exist_ok=True)
        with open(root / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another task or build may be building this very index: wait for it
            if not (folder / META).is_file():
                for stale in root.glob(f"{key}.tmp-*"):  # left by a killed build (we hold the lock: no one else)
                    shutil.rmtree(stale, ignore_errors=True)
                tmp = root / f"{key}.tmp-{os.getpid()}"
                try:
                    build_index(reference, params, tmp)
                    os.rename(tmp, folder)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                built = True
    index = ReferenceIndex(folder, min_similarity, scratch)
    return Obtained(index, key, built, round(time.monotonic() - started, 3))
