"""A reference corpus as exact hashes and MinHash LSH buckets in flat files, built streaming, queried memory-mapped.

The signatures are datatrove's: its `MinhashConfig` and the shingles and hash functions of the build's own
MinHash step (`FastMinhashDedupSignature`, bit for bit datatrove's), so a reference matches the way in-build
near-deduplication does. On disk, for N reference documents (M of them long enough for a MinHash signature) with
B buckets of R hashes:

    ids.bin, id_offsets.bin            the reference ids (UTF-8) and where each starts: the answer to "which one?"
    exact_hash.npy, exact_doc.npy      N sorted 64-bit hashes of the whitespace-normalized text, and their documents
    bucket_keys.npy, bucket_docs.npy   B x M: per bucket, sorted 64-bit hashes of a document's R band values
    signatures.bin                     M x B*R: the low 32 bits of each MinHash value, to estimate the similarity
    minhash_docs.bin                   M: the document of each signature row

That is 24 + 12*B + 4*B*R bytes per document (with the defaults 20 x 5: 664 bytes) plus its id. Queries read the
arrays memory-mapped: a lookup is a binary search per bucket, so a task's own (anonymous) memory does not grow with
the reference; the pages it touches are file-backed, cached by the OS and reclaimable. Building streams the records
through buffers of a few thousand documents, then sorts one array at a time: its peak is about 30 bytes per
reference document (one bucket's or the exact hashes, their sort order and the sorted copy).

A query is dropped as an exact duplicate when its normalized text hash is in the reference, and as a near
duplicate when it shares at least one LSH bucket with a reference document whose MinHash values agree with its own
in at least `min_similarity` of positions (an estimate of the Jaccard similarity of their word n-gram sets).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xxhash
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.utils.logging import logger

from corpusforge.errors import InputError
from corpusforge.pipeline.reference.sources import Reference
from corpusforge.pipeline.steps.minhash import FastMinhashDedupSignature

INDEX_VERSION = 2  # bump when the files change: an index of another version is rebuilt
META = "meta.json"
FLUSH_EVERY = 4096  # documents buffered before they go to disk while building
PROGRESS_EVERY = 50_000
MAX_CANDIDATES_PER_BUCKET = 64  # a band shared by thousands of reference documents (boilerplate) is sampled
LOW32 = np.uint64(0xFFFFFFFF)


@dataclass(frozen=True)
class IndexParams:
    """What the signatures depend on: part of the cache key."""

    exact: bool = True
    near: bool = True
    n_grams: int = 5
    num_buckets: int = 20
    hashes_per_bucket: int = 5
    seed: int = 1
    language: str = "en"

    def minhash_config(self) -> MinhashConfig:
        return MinhashConfig(
            n_grams=self.n_grams,
            num_buckets=self.num_buckets,
            hashes_per_bucket=self.hashes_per_bucket,
            seed=self.seed,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Match:
    kind: str  # exact | near
    ref_id: str
    similarity: float


def normalized_text(text: str) -> str:
    """What exact matching compares: the text with whitespace runs collapsed (as the build's exact dedup does)."""
    return " ".join(text.split())


def exact_hash(text: str) -> int:
    return xxhash.xxh64_intdigest(normalized_text(text).encode("utf-8", "surrogatepass"))


class Signer:
    """datatrove MinHash signatures of a text, and the hash of each of its LSH bands."""

    def __init__(self, params: IndexParams, scratch: Path):
        # the step is only used for its shingles and hash functions; its output folder is never written
        self._step = FastMinhashDedupSignature(str(scratch), params.minhash_config(), language=params.language)
        self.buckets = params.num_buckets

    def signature(self, text: str) -> np.ndarray | None:
        """(buckets, hashes per bucket) uint64, or None for a text shorter than one n-gram."""
        shingles = self._step.get_shingles(text)
        if shingles.size == 0:
            return None
        return np.asarray(self._step.get_signature(shingles), dtype=np.uint64)

    @staticmethod
    def band_keys(signature: np.ndarray) -> np.ndarray:
        return np.fromiter((xxhash.xxh64_intdigest(band.tobytes()) for band in signature), np.uint64)


class _Appender:
    """A raw binary file grown by buffered chunks of one dtype (and row width)."""

    def __init__(self, path: Path, dtype, width: int = 1):
        self.path, self.dtype, self.width = path, np.dtype(dtype), width
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._rows: list = []
        self.count = 0

    def add(self, row) -> None:
        self._rows.append(row)
        if len(self._rows) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            np.asarray(self._rows, dtype=self.dtype).tofile(self._file)
            self.count += len(self._rows)
            self._rows = []

    def close(self) -> np.memmap | np.ndarray:
        self.flush()
        self._file.close()
        shape = (self.count, self.width) if self.width > 1 else (self.count,)
        if self.count == 0:
            return np.zeros(shape, dtype=self.dtype)
        return np.memmap(self.path, dtype=self.dtype, mode="r", shape=shape)


def build_index(reference: Reference, params: IndexParams, folder: Path) -> dict[str, Any]:
    """Read the reference once and write its index into `folder` (which must be empty); returns its metadata."""
    started, cpu_started = time.monotonic(), time.process_time()
    folder.mkdir(parents=True, exist_ok=True)
    signer = Signer(params, folder / "_unused")
    width = params.num_buckets * params.hashes_per_bucket
    ids = open(folder / "ids.bin", "wb")  # noqa: SIM115 - closed below
    offsets = _Appender(folder / "id_offsets.bin", np.uint64)
    offsets.add(0)
    exact = _Appender(folder / "exact.tmp", np.uint64)
    bands = _Appender(folder / "bands.tmp", np.uint64, params.num_buckets)
    signatures = _Appender(folder / "signatures.bin", np.uint32, width)
    minhash_docs = _Appender(folder / "minhash_docs.bin", np.uint32)
    docs = too_short = 0
    position = 0
    for ref_id, text in reference.records():
        encoded = ref_id.encode("utf-8", "surrogatepass")
        ids.write(encoded)
        position += len(encoded)
        offsets.add(position)
        if params.exact:
            exact.add(exact_hash(text))
        if params.near:
            sig = signer.signature(text)
            if sig is None:
                too_short += 1
            else:
                bands.add(signer.band_keys(sig))
                signatures.add((sig.reshape(-1) & LOW32).astype(np.uint32))
                minhash_docs.add(docs)
        docs += 1
        if docs % PROGRESS_EVERY == 0:
            rate = docs / max(time.monotonic() - started, 1e-9)
            logger.info(f"reference {reference.label}: {docs:,} documents indexed ({rate:,.0f}/s)")
    ids.close()
    if docs == 0:
        skipped = ", ".join(f"{r} {n}" for r, n in reference.skipped.counts.items()) or "it is empty"
        raise InputError(f"{reference.spec.where}: no reference document with text ({skipped})")
    offsets.close()

    exact_hashes = exact.close()
    order = np.argsort(exact_hashes, kind="stable")
    np.save(folder / "exact_hash.npy", np.asarray(exact_hashes)[order])
    np.save(folder / "exact_doc.npy", order.astype(np.uint32))
    del exact_hashes, order
    (folder / "exact.tmp").unlink()

    band_rows = bands.close()
    rows = band_rows.shape[0]
    keys = np.lib.format.open_memmap(folder / "bucket_keys.npy", "w+", np.uint64, (params.num_buckets, rows))
    members = np.lib.format.open_memmap(folder / "bucket_docs.npy", "w+", np.uint32, (params.num_buckets, rows))
    for b in range(params.num_buckets if rows else 0):  # one bucket in memory at a time
        column = np.ascontiguousarray(band_rows[:, b])
        order = np.argsort(column, kind="stable")
        keys[b] = column[order]
        members[b] = order.astype(np.uint32)
    keys.flush(), members.flush()
    del keys, members, band_rows
    (folder / "bands.tmp").unlink()
    signatures.close(), minhash_docs.close()

    meta = {
        "version": INDEX_VERSION,
        "reference": reference.label,
        "kind": reference.kind,
        "params": params.to_dict(),
        "documents": docs,
        "minhash_documents": rows,
        "too_short_for_minhash": too_short,
        "skipped": reference.skipped.to_dict(),
        "build_seconds": round(time.monotonic() - started, 3),
        "build_cpu_seconds": round(time.process_time() - cpu_started, 3),  # what a loaded machine does not change
        "bytes_on_disk": sum(p.stat().st_size for p in folder.iterdir() if p.is_file()),
    }
    (folder / META).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    return meta


class ReferenceIndex:
    """An index written by `build_index`, memory-mapped; `match(text)` says which reference document, if any."""

    def __init__(self, folder: Path, min_similarity: float, scratch: Path):
        self.folder = folder
        self.meta = json.loads((folder / META).read_text(encoding="utf-8"))
        self.params = IndexParams(**self.meta["params"])
        self.min_similarity = min_similarity
        ids = folder / "ids.bin"
        self._ids = np.memmap(ids, dtype=np.uint8, mode="r") if ids.stat().st_size else None
        self._offsets = _raw(folder / "id_offsets.bin", np.uint64, (self.meta["documents"] + 1,))
        self._exact_hash = np.load(folder / "exact_hash.npy", mmap_mode="r")
        self._exact_doc = np.load(folder / "exact_doc.npy", mmap_mode="r")
        rows = self.meta["minhash_documents"]
        self._bucket_keys = np.load(folder / "bucket_keys.npy", mmap_mode="r")
        self._bucket_docs = np.load(folder / "bucket_docs.npy", mmap_mode="r")
        width = self.params.num_buckets * self.params.hashes_per_bucket
        self._signatures = _raw(folder / "signatures.bin", np.uint32, (rows, width))
        self._minhash_docs = _raw(folder / "minhash_docs.bin", np.uint32, (rows,))
        self._signer = Signer(self.params, scratch) if self.params.near else None
        self.last_too_short = False  # the last text had no word n-gram: it could only be matched exactly

    def ref_id(self, doc: int) -> str:
        start, end = int(self._offsets[doc]), int(self._offsets[doc + 1])
        return bytes(self._ids[start:end]).decode("utf-8", "surrogatepass") if self._ids is not None else ""

    def match(self, text: str) -> Match | None:
        self.last_too_short = False
        if self.params.exact and len(self._exact_hash):
            h = np.uint64(exact_hash(text))
            i = int(np.searchsorted(self._exact_hash, h))
            if i < len(self._exact_hash) and self._exact_hash[i] == h:
                return Match("exact", self.ref_id(int(self._exact_doc[i])), 1.0)
        if self._signer is None or not len(self._minhash_docs):
            return None
        return self.near_match(text)

    def near_match(self, text: str) -> Match | None:
        sig = self._signer.signature(text)
        if sig is None:
            self.last_too_short = True
            return None
        candidates: set[int] = set()
        for b, key in enumerate(self._signer.band_keys(sig)):
            row = self._bucket_keys[b]
            lo = int(np.searchsorted(row, key, side="left"))
            if lo < len(row) and row[lo] == key:
                hi = int(np.searchsorted(row, key, side="right"))
                candidates.update(self._bucket_docs[b, lo : min(hi, lo + MAX_CANDIDATES_PER_BUCKET)].tolist())
        if not candidates:
            return None
        rows = np.fromiter(sorted(candidates), dtype=np.int64)
        query = (sig.reshape(-1) & LOW32).astype(np.uint32)
        agree = (self._signatures[rows] == query).mean(axis=1)
        best = int(np.argmax(agree))
        similarity = float(agree[best])
        if similarity < self.min_similarity:
            return None
        return Match("near", self.ref_id(int(self._minhash_docs[rows[best]])), round(similarity, 4))


def _raw(path: Path, dtype, shape: tuple[int, ...]):
    if shape[0] == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=shape)
