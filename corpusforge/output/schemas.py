"""JSON Schemas of every record corpusforge writes (the files live in the repository's top-level `schemas/`)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema

# the repository's top-level schemas/, reached through a symlink inside the package so that a wheel carries it too
SCHEMA_DIR = Path(__file__).parent / "schema_files"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """`load_schema("document")` -> the parsed `schemas/document.schema.json`."""
    path = SCHEMA_DIR / f"{name}.schema.json"
    if not path.is_file():
        known = sorted(p.name.removesuffix(".schema.json") for p in SCHEMA_DIR.glob("*.schema.json"))
        raise FileNotFoundError(f"no schema {name!r} in {SCHEMA_DIR}; known: {known}")
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def validator(name: str):
    """A compiled jsonschema validator (compiled once per process: validating is on the hot path)."""
    import jsonschema

    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@cache
def fast_validator(name: str):
    """The schema compiled to Python by fastjsonschema: ~20x faster than jsonschema on valid records, which is
    what the write stages check one by one (jsonschema took ~0.6-1 ms a record)."""
    return fastjsonschema.compile(load_schema(name))


def validation_errors(name: str, record: dict[str, Any]) -> list[str]:
    """Every way `record` breaks schema `name`, as `path: message` lines (empty when it validates).

    Valid records take the fast path; for an invalid one, jsonschema lists every problem with its path.
    """
    try:
        fast_validator(name)(record)
        return []
    except fastjsonschema.JsonSchemaValueException as e:
        fast_error = f"{e.name}: {e.message}"
    errors = []
    for err in sorted(validator(name).iter_errors(record), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in err.absolute_path) or "(record)"
        errors.append(f"{path}: {err.message}")
    return errors or [fast_error]
