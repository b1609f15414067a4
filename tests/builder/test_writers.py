"""The build's writers write what datatrove's JsonlWriter and ParquetWriter write, byte for byte / row for row."""

from __future__ import annotations

import pyarrow.parquet as pq
from datatrove.data import Document
from datatrove.pipeline.writers import JsonlWriter, ParquetWriter

from corpusforge.builder.document_schema import arrow_schema, unchecked_document_record
from corpusforge.builder.writers import DatasetParquetWriter, IntermediateWriter


def documents() -> list[Document]:
    docs = [
        Document(text="Aspirin lowers fever.", id="pubmed/1", metadata={"source": "pubmed", "transforms": ["a"]}),
        Document(text="Second.", id="pubmed/2", metadata={"source": "pubmed", "provenance": {"pmid": "2"}}),
        Document(text="No metadata.", id="x/3"),
        Document(text="", id="x/4", metadata={"rank": "7", "nested": {"list": [1, (2, 3)]}}),  # "rank" overrides
    ]
    return docs


def run(writer, docs, rank=3):
    list(writer.run(iter(docs), rank=rank))
    return writer


def test_intermediate_writer_writes_jsonl_writer_s_lines(tmp_path):
    ours = run(
        IntermediateWriter(str(tmp_path / "ours"), output_filename="${rank}.jsonl", compression=None), documents()
    )
    theirs = run(
        JsonlWriter(str(tmp_path / "theirs"), output_filename="${rank}.jsonl", compression=None), documents()
    )
    files = sorted(p.relative_to(tmp_path / "ours") for p in (tmp_path / "ours").rglob("*.jsonl"))
    assert files == sorted(p.relative_to(tmp_path / "theirs") for p in (tmp_path / "theirs").rglob("*.jsonl"))
    assert len(files) == 2  # 00003.jsonl, and 7.jsonl for the document whose metadata names a rank
    for name in files:
        assert (tmp_path / "ours" / name).read_bytes() == (tmp_path / "theirs" / name).read_bytes()
    assert dict(ours.stats.stats).keys() == dict(theirs.stats.stats).keys()


def test_dataset_parquet_writer_writes_parquet_writer_s_rows(tmp_path):
    docs = documents()[:3]
    options = dict(output_filename="train/${rank}.parquet", adapter=unchecked_document_record, schema=arrow_schema())
    run(DatasetParquetWriter(str(tmp_path / "ours"), **options), docs)
    run(ParquetWriter(str(tmp_path / "theirs"), **options), docs)
    ours = pq.read_table(tmp_path / "ours" / "train" / "000_00003.parquet")
    assert ours.equals(pq.read_table(tmp_path / "theirs" / "train" / "000_00003.parquet"))
    assert ours.num_rows == 3
