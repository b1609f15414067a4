"""Documents -> the records a pretrain build writes (schemas/document.schema.json), with a fixed Arrow schema.

The schema is fixed up front (not inferred from the first record) so every shard has the same columns and
`datasets.load_dataset` can read them together; source-specific extras go into `meta` as JSON text.
"""

from __future__ import annotations

import json
from typing import Any

from datatrove.data import Document

from corpusforge.errors import BuildError
from corpusforge.output.schemas import validation_errors

PROVENANCE_FIELDS = {"file": str, "line": int, "offset": int, "element": int, "pmid": str, "record_id": str}
RESERVED_METADATA = {"source", "provenance", "transforms", "file_path"}


def arrow_schema():
    import pyarrow as pa

    pa_types = {str: pa.string(), int: pa.int64()}
    return pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.string()),
            ("source", pa.string()),
            ("provenance", pa.struct([(name, pa_types[t]) for name, t in PROVENANCE_FIELDS.items()])),
            ("transforms", pa.list_(pa.string())),
            ("meta", pa.string()),
        ]
    )


def document_record(doc: Document) -> dict[str, Any]:
    """The output record of one document. Provenance keys beyond the fixed ones move into `meta`."""
    metadata = doc.metadata
    provenance = dict(metadata.get("provenance") or {})
    fixed = {}
    for name, kind in PROVENANCE_FIELDS.items():
        value = provenance.pop(name, None)
        fixed[name] = kind(value) if value is not None else None
    extras = {k: v for k, v in metadata.items() if k not in RESERVED_METADATA}
    if provenance:
        extras["provenance"] = provenance
    return {
        "id": doc.id,
        "text": doc.text,
        "source": metadata.get("source"),
        "provenance": fixed,
        "transforms": list(metadata.get("transforms") or []),
        "meta": json.dumps(extras, ensure_ascii=False, sort_keys=True, default=str),
    }


def checked_document_record(writer, doc: Document) -> dict[str, Any]:
    """ParquetWriter adapter that refuses to write a record breaking the schema (a bug, not bad input)."""
    record = document_record(doc)
    errors = validation_errors("document", record)
    if errors:
        raise BuildError(f"document {doc.id!r} does not match schemas/document.schema.json: {'; '.join(errors)}")
    return record


def unchecked_document_record(writer, doc: Document) -> dict[str, Any]:
    return document_record(doc)
