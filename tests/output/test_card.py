"""Dataset cards: the `dataset_info` corpusforge writes is what `datasets` itself would write."""

from __future__ import annotations

import pyarrow as pa
import pytest

from corpusforge.output.card import features_yaml


def schemas():
    from corpusforge.builder.document_schema import arrow_schema as document_schema
    from corpusforge.instruct.output import arrow_schema as instruction_schema

    extra = pa.schema(
        [
            ("scores", pa.list_(pa.float64())),
            ("flags", pa.list_(pa.bool_())),
            ("nested", pa.list_(pa.list_(pa.string()))),
            ("n", pa.int32()),
            ("p", pa.float32()),
        ]
    )
    return {"document": document_schema(), "instruction": instruction_schema(), "extra": extra}


@pytest.mark.parametrize("name", ["document", "instruction", "extra"])
def test_features_yaml_matches_datasets(name):
    from datasets import Features

    schema = schemas()[name]
    assert features_yaml(schema) == Features.from_arrow_schema(schema)._to_yaml_list()


def test_unknown_arrow_types_are_refused():
    with pytest.raises(TypeError, match="no dataset-card feature"):
        features_yaml(pa.schema([("t", pa.timestamp("s"))]))


def test_sizes_uncompressed_where_the_hub_expects_them(tmp_path):
    """num_bytes / dataset_size: the Arrow size of the data; download_size: the parquet files' size."""
    import pyarrow.parquet as pq

    from corpusforge.output.card import dataset_info

    folder = tmp_path / "data" / "train"
    folder.mkdir(parents=True)
    texts = [f"Patient {i} was treated with insulin and metformin for type 2 diabetes. " * 20 for i in range(500)]
    for n in range(2):
        pq.write_table(pa.table({"text": texts}), folder / f"{n}.parquet", compression="zstd", row_group_size=100)
    info = dataset_info(tmp_path, "default", {"train": "data/train/*.parquet"})
    files = sorted(folder.glob("*.parquet"))
    arrow = sum(pq.read_table(f).nbytes for f in files)
    assert info["splits"] == [{"name": "train", "num_bytes": arrow, "num_examples": 1000}]
    assert info["dataset_size"] == arrow and info["download_size"] == sum(f.stat().st_size for f in files)
    assert info["download_size"] < arrow / 10  # zstd on repetitive text: the two must not be confused
