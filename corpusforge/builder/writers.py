"""datatrove's JSONL and Parquet writers without two per-document costs a build does not need.

A datatrove writer fills its filename template for every document twice (once to write, once for a per-file
stat), offering every metadata key as a tag, and its default adapter deep-copies each document with
`dataclasses.asdict`. Together that was ~3% of a PubMed build's CPU time. The writers here compute a filename that
names only `${rank}` once per rank, and build the default record without copying; files and records are the same.
"""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.writers import JsonlWriter, ParquetWriter


class _RankOnlyFilename:
    """`_get_output_filename` memoized per rank when the template's only tag is `${rank}` (datatrove's own
    substitution otherwise, and for a document whose metadata would override the tag)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rank_only = self.output_filename.get_identifiers() == ["rank"]
        self._names_by_rank: dict[int | str, str] = {}

    def _get_output_filename(self, document: Document, rank: int | str = 0, **kwargs) -> str:
        if not self._rank_only or kwargs or "rank" in document.metadata:
            return super()._get_output_filename(document, rank, **kwargs)
        name = self._names_by_rank.get(rank)
        if name is None:
            name = self._names_by_rank[rank] = self.output_filename.substitute(rank=str(rank).zfill(5))
        return name


class IntermediateWriter(_RankOnlyFilename, JsonlWriter):
    """The sources' intermediate JSONL documents (datatrove's JsonlWriter: the same lines)."""

    def _default_adapter(self, document: Document) -> dict:
        if document.media or self.expand_metadata:
            return super()._default_adapter(document)
        record = {"text": document.text, "id": document.id, "metadata": document.metadata}  # asdict's field order
        return {key: value for key, value in record.items() if value}


class DatasetParquetWriter(_RankOnlyFilename, ParquetWriter):
    """datatrove's ParquetWriter for the dataset's shards (the records come from the build's adapter)."""
