"""`dedup.reference`: drop a source's documents that an existing corpus already has, naming the one it matched.

In-build deduplication (the recipe's `dedup:`) compares the documents of one build with each other. This step
compares each document with a reference corpus built before (a corpusforge output, parquet/JSONL files, a saved
or Hub dataset): an exact copy (the same text up to whitespace) is dropped as `reference_exact_duplicate`, a near
copy (MinHash, datatrove's signatures) as `reference_near_duplicate`. Every drop carries the matched reference id:

- in the dropped-records sample of the report (`match`: reference, id, similarity);
- in the full list `OUTPUT/.corpusforge/reference_dedup/<source>/<rank>-<key>.matches.jsonl` (one line per drop);
- counted, with the reference and its index, in the manifest (`reference_dedup`) and the card.

The reference's signatures are computed once and cached on disk (corpusforge/pipeline/reference/cache.py).
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.utils.logging import logger
from pydantic import Field, model_validator

from corpusforge.output.dataset_dir import STATE_DIR, write_json_atomic
from corpusforge.pipeline.reference.cache import Obtained, obtain_index
from corpusforge.pipeline.reference.index import IndexParams
from corpusforge.pipeline.reference.sources import ReferenceSpec, open_reference, problems
from corpusforge.pipeline.registry import BuildContext, StepParams, register

REFERENCE_DIR = "reference_dedup"  # under OUTPUT/.corpusforge/
EXACT, NEAR = "reference_exact_duplicate", "reference_near_duplicate"
T = TypeVar("T")


@register("dedup.reference")
class ReferenceDedup(BaseFilter):
    """Drop documents that are exact or near copies of a document of an existing corpus, naming the one matched."""

    class Params(StepParams):
        """The reference (`path` or `hub`), the fields holding its text and ids, and how copies are found."""

        path: str | None = None
        """A corpusforge output folder, a .parquet/.jsonl[.gz] file, a folder or glob of them, or a folder saved
        by `datasets` (save_to_disk)."""
        hub: str | None = None
        """A Hub dataset id (or a local folder of data files), loaded by `datasets.load_dataset`."""
        split: str = "train"
        """The split of a Hub or saved dataset."""
        config: str | None = None
        """The configuration of a Hub dataset."""
        revision: str | None = None
        """The revision of a Hub dataset."""
        text_key: str = "text"
        """The field (column) of a reference record's text."""
        id_key: str = "id"
        """The field of a reference id; records without one are named `file:line` or `file:row N`."""
        exact: bool = True
        """Drop exact copies (the same text up to whitespace)."""
        near: bool = True
        """Drop near copies (MinHash LSH over word n-grams, then a similarity check)."""
        n_grams: int = Field(5, ge=1)
        num_buckets: int = Field(20, ge=1)
        """LSH bands; with `hashes_per_bucket` they set the similarity from which copies are found reliably,
        about (1/num_buckets)**(1/hashes_per_bucket): 0.55 here, below in-build dedup's 14 x 8 (0.72), since every
        candidate is verified (`min_similarity`) and a lightly edited short document is often at 0.6."""
        hashes_per_bucket: int = Field(5, ge=1)
        seed: int = 1
        language: str = "en"
        min_similarity: float = Field(0.5, ge=0, le=1)
        """A near copy must share a bucket with a reference document and agree with it in at least this share of
        MinHash values (an estimate of the Jaccard similarity of their n-gram sets)."""
        cache_dir: str | None = None
        """Where reference indexes are kept (default $CORPUSFORGE_CACHE/reference or ~/.cache/corpusforge/reference)."""

        @model_validator(mode="after")
        def _one_reference(self):
            if bool(self.path) == bool(self.hub):
                raise ValueError(
                    "give the reference as exactly one of `path` (files or a folder) or `hub` (a dataset id)"
                )
            if not (self.exact or self.near):
                raise ValueError("exact and near are both false: this step would check nothing")
            return self

    @staticmethod
    def input_problems(params: Params, where: str) -> list[str]:
        """The recipe check before any I/O: the reference exists and is a layout this step reads."""
        return problems(_spec(params), where)

    @classmethod
    def from_params(cls, params: Params, ctx: BuildContext) -> ReferenceDedup:
        return cls(
            spec=_spec(params),
            index_params=_from_params(IndexParams, params),
            min_similarity=params.min_similarity,
            cache_dir=params.cache_dir,
            report_dir=ctx.output_dir / STATE_DIR / REFERENCE_DIR / ctx.source,
            source=ctx.source,
        )

    def __init__(
        self,
        spec: ReferenceSpec,
        index_params: IndexParams | None = None,
        min_similarity: float = 0.5,
        cache_dir: str | None = None,
        report_dir: str | Path | None = None,
        source: str | None = None,
    ):
        super().__init__()
        self.spec = spec
        self.index_params = index_params or IndexParams()
        self.min_similarity = min_similarity
        self.cache_dir = cache_dir
        self.report_dir = Path(report_dir) if report_dir else None
        self.source = source
        self._obtained: Obtained | None = None
        self._matches = None
        self._counts = {"checked": 0, EXACT: 0, NEAR: 0, "too_short_for_minhash": 0}

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self._counts = dict.fromkeys(self._counts, 0)  # per task
        obtained = self._obtain()
        key = obtained.key
        self.stat_update("reference_index_built" if obtained.built else "reference_index_reused")
        if self.report_dir is not None:
            self.report_dir.mkdir(parents=True, exist_ok=True)
            self._matches = open(self.report_dir / f"{rank:05d}-{key}.matches.jsonl", "w", encoding="utf-8")  # noqa: SIM115
        try:
            yield from super().run(data, rank, world_size)
        finally:
            if self._matches is not None:
                self._matches.close()
                self._matches = None
        if self.report_dir is not None:  # only a task that finished writes its summary
            write_json_atomic(self.report_dir / f"{rank:05d}-{key}.json", self.task_summary(rank))

    def _obtain(self) -> Obtained:
        if self._obtained is None:
            reference = open_reference(self.spec)
            self._obtained = obtain_index(reference, self.index_params, self.min_similarity, self.cache_dir)
            meta = self._obtained.index.meta
            how = "built" if self._obtained.built else "reused from the cache"
            logger.info(
                f"dedup.reference: index of {meta['reference']} ({meta['documents']:,} documents) {how} "
                f"in {self._obtained.seconds:.1f}s: {self._obtained.index.folder}"
            )
        return self._obtained

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        index = self._obtain().index
        self._counts["checked"] += 1
        self.stat_update("reference_checked")
        found = index.match(doc.text)
        if index.last_too_short:
            self._counts["too_short_for_minhash"] += 1
            self.stat_update("reference_too_short_for_minhash")
        if found is None:
            return True
        reason = EXACT if found.kind == "exact" else NEAR
        self._counts[reason] += 1
        match = {"reference": index.meta["reference"], "ref": found.ref_id, "kind": found.kind}
        if found.kind == "near":
            match["similarity"] = found.similarity
        doc.metadata["decontam_match"] = match  # the dropped-records sample shows what matched
        if self._matches is not None:
            line = {"id": doc.id, "reason": reason, "ref": found.ref_id, "similarity": found.similarity}
            self._matches.write(json.dumps(line, ensure_ascii=False) + "\n")
        return False, reason

    def task_summary(self, rank: int) -> dict[str, Any]:
        obtained = self._obtain()
        meta = obtained.index.meta
        return {
            "source": self.source,
            "rank": rank,
            "key": obtained.key,
            "reference": meta["reference"],
            "index": {
                "path": str(obtained.index.folder),
                "documents": meta["documents"],
                "minhash_documents": meta["minhash_documents"],
                "too_short_for_minhash": meta["too_short_for_minhash"],
                "skipped": meta["skipped"]["by_reason"],
                "bytes_on_disk": meta["bytes_on_disk"],
                "build_seconds": meta["build_seconds"],
                "build_cpu_seconds": meta.get("build_cpu_seconds"),
            },
            "params": {**meta["params"], "min_similarity": self.min_similarity},
            "built_here": obtained.built,
            "seconds_to_obtain": obtained.seconds,
            "counts": dict(self._counts),
        }

    def __getstate__(self) -> dict[str, Any]:  # pickled to the executor's workers before any index is open
        return {**self.__dict__, "_obtained": None, "_matches": None}


def _spec(params: ReferenceDedup.Params) -> ReferenceSpec:
    return _from_params(ReferenceSpec, params)


def _from_params(cls: type[T], params: ReferenceDedup.Params) -> T:
    """A dataclass of the reference layer filled from the step's same-named params (the recipe documents them)."""
    return cls(**params.model_dump(include={f.name for f in fields(cls)}))
