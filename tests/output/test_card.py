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
