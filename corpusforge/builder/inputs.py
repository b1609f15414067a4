"""The files a build reads, with size, mtime and SHA-256: the other half of what a rerun must not change.

The recipe fingerprint says *how* a dataset was made; this inventory says *from what*. A rerun into the same output
compares the files its recipe points at now with the ones recorded when the output was first built: any file
modified, replaced, added or removed means the finished tasks (datatrove's completion markers) describe data that
is no longer there, so the build refuses in one line naming the files, and `--overwrite` rebuilds. The inventory
also goes into manifest.json, so a dataset says what it was made from.

Hashing is cheap next to reading (SHA-256 runs at ~1.7 GB/s here, a build reads far slower) and is done once: a
file whose size, mtime, ctime and inode match the recorded ones keeps its recorded hash (ctime cannot be set back,
so a file rewritten and `touch -d`-ed to its old time is read again). A file whose times changed but whose content
did not (a `touch`, a copy that keeps the bytes) is not a change. Only regular files are opened: a FIFO, a socket
or a device is recorded by its kind and never read (opening a FIFO would block).
"""

from __future__ import annotations

import glob
import hashlib
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import fsspec
from pydantic import BaseModel

from corpusforge.builder.recipe import RecipeBase
from corpusforge.pipeline.registry import BuildContext, StepParams, build_step

INPUTS_FILE = "inputs.json"
HASH_CHUNK = 2**20


@dataclass
class InputFile:
    """One file as the build saw it. `kind` is "file" for a regular file, else what it is (it is not read)."""

    path: str
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    kind: str = "file"
    error: str | None = None
    version: str | None = None  # a remote file: its ETag or modification time, as the file system tells it
    ctime_ns: int | None = None  # with the inode: a file rewritten with its old size and mtime set back is rehashed
    inode: int | None = None

    def same_stat(self, st: os.stat_result) -> bool:
        """Unchanged without reading it: same size, mtime, ctime (which no one can set back) and inode."""
        return (self.size, self.mtime_ns, self.ctime_ns, self.inode) == (
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
            st.st_ino,
        )

    def same_content(self, other: InputFile) -> bool:
        if self.sha256 and other.sha256:
            return self.sha256 == other.sha256
        state = (self.kind, self.size, self.mtime_ns, self.version, self.error)
        return state == (other.kind, other.size, other.mtime_ns, other.version, other.error)


# ---- what a recipe reads ---------------------------------------------------------------------------------------
def recipe_inputs(recipe: RecipeBase, output_dir: Path) -> dict[str, list[str]]:
    """{YAML path of the field: the files it makes the build read}, e.g. `sources.web.reader.path: [a.jsonl, ...]`.

    A reader's files are listed by the reader itself (its datatrove data folder, glob and recursion), so the
    inventory is exactly what its tasks read; a step's `*_path` fields (a decontamination set, a lexicon) are
    files, folders (every file below) or globs.
    """
    found: dict[str, list[str]] = {}
    for name, source in recipe.enabled_sources().items():
        found[f"sources.{name}.reader.path"] = reader_files(source.reader, name, recipe, output_dir)
        for i, step in enumerate(source.steps):
            found.update(path_fields(f"sources.{name}.steps.{i}", step))
    for i, step in enumerate(recipe.filters):  # type: ignore[attr-defined]
        found.update(path_fields(f"filters.{i}", step))
    if recipe.output.tokenize:
        found["output.tokenize.tokenizer_file"] = local_files(recipe.output.tokenize.tokenizer_file)
    return found


def reader_files(params: StepParams, source: str, recipe: RecipeBase, output_dir: Path) -> list[str]:
    """The files the source's reader will read, as the paths its provenance shows (folder joined with the file)."""
    ctx = BuildContext(source=source, output_dir=output_dir, work_dir=output_dir, seed=recipe.seed, llm=recipe.llm)
    reader = build_step(params, ctx)
    folder = getattr(reader, "data_folder", None)
    if folder is None:  # a reader that does not read files (none of corpusforge's): nothing to record
        return []
    names = folder.list_files(recursive=getattr(reader, "recursive", True), glob_pattern=reader.glob_pattern)
    root = getattr(reader, "display_root", None)
    if root is not None and "file" in _protocols(folder.fs):
        return [os.path.normpath(os.path.join(root, name)) for name in names]
    return [folder.resolve_paths(name) for name in names]


def _protocols(fs) -> tuple[str, ...]:
    return (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)


INPUT_FILE_FIELDS = {"path", "test_ground_truth"}  # besides `*_path`: fields that name files a step reads


def path_fields(where: str, params: BaseModel) -> dict[str, list[str]]:
    """`path` and `*_path` fields, also inside nested settings and lists of them (decontam.eval_sets' `sets`)."""
    found = {}
    for field_name in type(params).model_fields:
        value = getattr(params, field_name)
        if field_name in INPUT_FILE_FIELDS or field_name.endswith("_path"):
            if isinstance(value, str) and value:
                found[f"{where}.{field_name}"] = local_files(value)
        elif isinstance(value, BaseModel):
            found.update(path_fields(f"{where}.{field_name}", value))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    found.update(path_fields(f"{where}.{field_name}.{i}", item))
    return found


def local_files(value: str) -> list[str]:
    """A file, every file below a folder, or what a glob matches; a path that is not local (a Hub id) is none."""
    if glob.has_magic(value):
        return sorted(p for p in glob.glob(value, recursive=True) if not os.path.isdir(p))
    if os.path.isdir(value):
        return sorted(os.path.join(root, f) for root, _, files in os.walk(value) for f in files)
    return [value] if os.path.lexists(value) else []


# ---- their state -----------------------------------------------------------------------------------------------
def file_kind(mode: int) -> str:
    for check, kind in ((stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "device")):
        if check(mode):
            return kind
    return "device" if stat.S_ISBLK(mode) else "file" if stat.S_ISREG(mode) else "other"


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def inspect_file(path: str, known: InputFile | None = None) -> InputFile:
    """Size, mtime and hash of one file; the recorded hash is reused when size and mtime are unchanged."""
    if "://" in path:  # a remote file (s3://, hf://): no cheap hash; datatrove's fsspec gives size and mtime
        return _inspect_remote(path)
    try:
        st = os.stat(path)
    except OSError as e:
        return InputFile(path, None, None, None, kind="missing", error=e.strerror or str(e))
    kind = file_kind(st.st_mode)
    if kind != "file":
        return InputFile(path, None, None, None, kind=kind)
    times = {"ctime_ns": st.st_ctime_ns, "inode": st.st_ino}
    if known is not None and known.sha256 and known.same_stat(st):
        return InputFile(path, st.st_size, st.st_mtime_ns, known.sha256, **times)
    try:
        digest = sha256_of(path)
    except OSError as e:
        return InputFile(path, st.st_size, st.st_mtime_ns, None, error=e.strerror or str(e), **times)
    return InputFile(path, st.st_size, st.st_mtime_ns, digest, **times)


def _inspect_remote(path: str) -> InputFile:
    try:
        fs, inner = fsspec.core.url_to_fs(path)
        info = fs.info(inner)
    except Exception as e:  # noqa: BLE001 - any fsspec backend: record why, compare it like a state
        return InputFile(path, None, None, None, kind="missing", error=f"{type(e).__name__}: {e}")
    version = info.get("ETag") or info.get("etag") or info.get("LastModified") or info.get("mtime")
    return InputFile(path, info.get("size"), None, None, kind="remote", version=str(version) if version else None)


def take_inventory(recipe: RecipeBase, output_dir: Path, previous: dict | None = None) -> dict[str, list[InputFile]]:
    """{YAML path: [InputFile]} for everything the recipe reads, reusing `previous` hashes where files are unchanged."""
    known = {f.path: f for files in (previous or {}).values() for f in files}
    return {
        where: [inspect_file(path, known.get(path)) for path in paths]
        for where, paths in recipe_inputs(recipe, output_dir).items()
    }


# ---- stored, compared, shown -----------------------------------------------------------------------------------
def inventory_to_json(inventory: dict[str, list[InputFile]]) -> dict[str, Any]:
    return {where: [asdict(f) for f in files] for where, files in inventory.items()}


def inventory_from_json(data: dict[str, Any]) -> dict[str, list[InputFile]]:
    return {where: [InputFile(**f) for f in files] for where, files in data.items()}


def changes(before: dict[str, list[InputFile]], now: dict[str, list[InputFile]]) -> list[str]:
    """What differs, one short item per file: `docs.jsonl modified`, `new.jsonl added`, `old.jsonl removed`."""
    found = []
    for where in sorted(set(before) | set(now)):
        old = {f.path: f for f in before.get(where, [])}
        new = {f.path: f for f in now.get(where, [])}
        for path in sorted(set(old) | set(new)):
            if path not in old:
                found.append(f"{path} added")
            elif path not in new:
                found.append(f"{path} removed")
            elif not old[path].same_content(new[path]):
                found.append(f"{path} modified")
    return found


def describe_changes(found: list[str], shown: int = 3) -> str:
    text = ", ".join(found[:shown])
    return text + (f" and {len(found) - shown} more" if len(found) > shown else "")


def manifest_inputs(inventory: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The manifest's `inputs`: per YAML path, every file with its size and SHA-256 (and its kind when not a file)."""
    shown = {}
    for where, files in inventory.items():
        shown[where] = [
            {"path": f["path"], "size": f["size"], "sha256": f["sha256"]}
            | ({"kind": f["kind"]} if f["kind"] != "file" else {})
            | ({"error": f["error"]} if f.get("error") else {})
            for f in files
        ]
    return shown
