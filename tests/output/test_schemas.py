"""Record validation: the fast path and jsonschema agree, and errors name the field."""

from __future__ import annotations

import copy

from corpusforge.output.schemas import validation_errors

DOCUMENT = {
    "id": "books:a.md#0",
    "text": "Hypertension is a persistent elevation of arterial blood pressure.",
    "source": "books",
    "provenance": {"file": "a.md", "line": None, "offset": 0, "element": None, "pmid": None, "record_id": None},
    "transforms": ["read.books", "books.chunk"],
    "meta": "{}",
}


def test_a_valid_document_has_no_errors():
    assert validation_errors("document", DOCUMENT) == []


def test_each_broken_field_is_named():
    cases = [
        ("text", "", "text: '' should be non-empty"),
        ("source", "Books!", "source: 'Books!' does not match"),
        ("transforms", [], "transforms: [] should be non-empty"),
    ]
    for field, value, expected in cases:
        record = {**DOCUMENT, field: value}
        errors = validation_errors("document", record)
        assert any(e.startswith(expected) for e in errors), errors
    missing = {k: v for k, v in DOCUMENT.items() if k != "meta"}
    assert validation_errors("document", missing) == ["(record): 'meta' is a required property"]


def test_provenance_needs_a_file_or_a_pmid():
    record = copy.deepcopy(DOCUMENT)
    record["provenance"]["file"] = None
    assert validation_errors("document", record)
    record["provenance"]["pmid"] = "12345"
    assert validation_errors("document", record) == []
