"""`corpusforge label merge OUT SHARD...`: one label output from the outputs of a job run by hand in shards
(`run.num_shards` / `run.shard_index`, one command and one output directory per GPU).

The merged directory is what one process would have written: the records in input order (shard k holds the
input positions k, k + n, ...), re-chunked by run.chunk_size, the quarantine of the whole input, one manifest
and card, and one request cache holding every shard's finished requests (the shards' caches are copied, not
moved), so labelling the whole job into the merged folder later is answered from it.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from corpusforge.errors import ConfigError, InputError
from corpusforge.label.config import LabelJob
from corpusforge.label.coordinator import add_counters
from corpusforge.label.finish import LabelRun, finish_output
from corpusforge.label.ondemand import make_backend
from corpusforge.label.output_lock import output_lock
from corpusforge.label.prompts import PromptBook
from corpusforge.label.runner import RunCounters
from corpusforge.label.selection import start_output
from corpusforge.label.shards import fold_caches
from corpusforge.label.strategies import StrategyContext
from corpusforge.output.dataset_dir import DATA_DIR, MANIFEST

SHARD_ONLY = ("output", "shard_index", "cache", "progress")


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise InputError(f"{folder}: no {MANIFEST}; not a finished label output (rerun that shard's command first)")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("kind") != "label" or manifest.get("status") != "ok":
        raise InputError(f"{path}: not a finished label output (kind {manifest.get('kind')!r})")
    if "eval" in manifest:
        raise InputError(f"{path}: an evaluation run (--eval); label the test split in one run instead")
    return manifest


def _comparable(job: LabelJob) -> dict[str, Any]:
    data = job.model_dump(mode="json")
    for key in SHARD_ONLY:
        data["run"].pop(key, None)
    data.pop("executor", None)
    return data


def shard_jobs(folders: list[Path]) -> tuple[list[Path], list[LabelJob], list[dict[str, Any]]]:
    """The shards' folders, jobs and manifests in shard order, checked to be one job cut into all its shards."""
    manifests = [_manifest(f) for f in folders]
    jobs = [LabelJob.model_validate(m["job"]) for m in manifests]
    n = jobs[0].run.num_shards
    for folder, job in zip(folders, jobs):
        if job.run.num_shards != n:
            raise ConfigError(f"{folder}: run.num_shards is {job.run.num_shards}, {folders[0]} has {n}")
        if _comparable(job) != _comparable(jobs[0]):
            raise ConfigError(f"{folder}: labelled by a different job than {folders[0]} (model, strategy, input...)")
    by_index = {job.run.shard_index: i for i, job in enumerate(jobs)}
    if len(by_index) != len(jobs) or set(by_index) != set(range(n)):
        have = sorted(job.run.shard_index for job in jobs)
        raise ConfigError(f"run.shard_index: the outputs hold shards {have}; a merge needs each of 0..{n - 1} once")
    order = [by_index[k] for k in range(n)]
    return [folders[i] for i in order], [jobs[i] for i in order], [manifests[i] for i in order]


def _records(folder: Path) -> Iterator[dict]:
    import pyarrow.parquet as pq

    for shard in sorted((folder / DATA_DIR).glob("*.parquet")):
        yield from pq.read_table(shard).to_pylist()


def _counters(summary: dict[str, Any]) -> RunCounters:
    r, t = summary["requests"], summary["tokens"]
    return RunCounters(
        requests=r["total"],
        cache_hits=r["cache_hits"],
        sent=r["sent_to_backend"],
        deduplicated=r["deduplicated"],
        waves=r["waves"],
        errors=dict(r["errors"]),
        prompt_tokens=t["prompt"],
        cached_prompt_tokens=t["prompt_from_prefix_cache"],
        completion_tokens=t["completion"],
        items=summary["labeled"] + summary["unlabeled"],
    )


def merge_shards(folders: list[Path], output_dir: Path, log: Callable[[str], None] | None = None):
    """Merge the shard outputs into `output_dir` (see the module doc); returns the LabelRun."""
    log = log or (lambda _: None)
    folders = [Path(f) for f in folders]
    resolved = {f.resolve() for f in folders}
    if Path(output_dir).resolve() in resolved:
        raise ConfigError(f"{output_dir}: the merged output must be a new folder, not one of the shards")
    folders, jobs, manifests = shard_jobs(folders)
    n = len(jobs)
    run = jobs[0].run.model_copy(update={"output": str(output_dir), "num_shards": 1, "shard_index": 0, "cache": None})
    job = jobs[0].model_copy(update={"run": run})
    with output_lock(output_dir):
        output, summary, items, positions = start_output(job, output_dir)
        ids = {p: item.id for p, item in zip(positions, items)}

        def keyed(k: int) -> Iterator[tuple[int, int, dict]]:
            mine = [p for p in positions if p % n == k]
            count = 0
            for position, record in zip(mine, _records(folders[k])):
                if record["pmid"] != ids[position]:
                    raise InputError(
                        f"{folders[k]}: record {count} is {record['pmid']}, the input has {ids[position]} there; "
                        "the input changed since the shards were labelled"
                    )
                count += 1
                yield position, k, record
            if count != len(mine):
                raise InputError(f"{folders[k]}: {count} records, the input gives this shard {len(mine)} items")

        counters = RunCounters()
        buffer: list[dict] = []
        for _, _, record in heapq.merge(*(keyed(k) for k in range(n)), key=lambda t: (t[0], t[1])):
            buffer.append(record)
            summary.add(record)
            if len(buffer) == job.run.chunk_size:
                output.write_records(buffer)
                buffer = []
        output.write_records(buffer)
        for manifest in manifests:
            add_counters(counters, _counters(manifest["summary"]).__dict__)
        copied = fold_caches(job.cache_path(), [Path(m["cache"]["path"]) for m in manifests], delete=False)
        log(f"merged {n} shards: {output.rows} records; {copied} cached requests copied into {job.cache_path()}")
        seconds = [m["summary"]["seconds"] for m in manifests]
        result = summary.build(counters, max(s["label"] for s in seconds), max(s["load"] for s in seconds))
        book = PromptBook(job.task.templates)
        manifest = finish_output(
            job, output, result, make_backend(job), StrategyContext(job, book).hashes, [],
            cache={"path": str(job.cache_path()), "run_id": None},
            extra={"merged_from": [str(f) for f in folders]},
        )  # fmt: skip
        return LabelRun(Path(output_dir), result, manifest, "")
