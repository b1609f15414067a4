"""Writing instruction records: a fixed Arrow schema and the adapter a datatrove ParquetWriter needs.

The schema is fixed up front (not inferred from the first record) so every shard of every split has the same
columns and `datasets.load_dataset` reads them together. Nested fields stay nested (messages as a list of
{role, content}, mc as a struct or null), which is what chat trainers and the Hub viewer expect.
"""

from __future__ import annotations

from typing import Any

from datatrove.data import Document

from corpusforge.errors import BuildError
from corpusforge.formats.instruction import PROVENANCE_FIELDS, record_errors


def arrow_schema():
    import pyarrow as pa

    pa_types = {str: pa.string(), int: pa.int64()}
    option = pa.struct([("key", pa.string()), ("text", pa.string())])
    mc = pa.struct(
        [
            ("question", pa.string()),
            ("context", pa.string()),
            ("options", pa.list_(option)),
            ("answer", pa.string()),
            ("explanation", pa.string()),
        ]
    )
    return pa.schema(
        [
            ("id", pa.string()),
            ("source", pa.string()),
            ("task", pa.string()),
            ("task_id", pa.int64()),
            ("language", pa.string()),
            ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
            ("mc", mc),
            ("provenance", pa.struct([(name, pa_types[t]) for name, t in PROVENANCE_FIELDS.items()])),
            ("meta", pa.string()),
        ]
    )


def instruction_row(writer, doc: Document) -> dict[str, Any]:
    """ParquetWriter adapter: the document's instruction record, refused if it breaks the schema (a bug)."""
    record = doc.metadata["record"]
    errors = record_errors(record)
    if errors:
        raise BuildError(f"record {doc.id!r} does not match schemas/instruction.schema.json: {'; '.join(errors)}")
    return record


def unchecked_instruction_row(writer, doc: Document) -> dict[str, Any]:
    return doc.metadata["record"]
