"""Input items for labelling, from PubMedQA's real layouts, generic JSON lines, or a Hub dataset.

Every input record ends up either as a LabelItem or as a Quarantined entry (raw record, location, reason): a bad
record is counted and kept, never silently skipped, and never stops the run. Text that cannot be encoded (a lone
surrogate such as JSON's "\\ud800") is quarantined here (`unencodable_text`), so no prompt, cache key or output
ever holds it; a boolean is not an id or a text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpusforge.errors import InputError
from corpusforge.formats.pubmedqa import MalformedItem, item_from_hub, iter_items
from corpusforge.io.input_records import MalformedFile
from corpusforge.io.json_layouts import iter_jsonl
from corpusforge.io.lone_surrogates import printable
from corpusforge.io.quarantine import raw_to_json
from corpusforge.label.config import InputSpec

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class LabelItem:
    id: str
    question: str
    context: str
    long_answer: str
    location: str
    gold: str | None = None  # a reference label when the input has one (PQA-L's final_decision)


@dataclass(frozen=True)
class Quarantined:
    location: str
    reason: str
    detail: str
    raw: Any

    def __post_init__(self) -> None:  # every field is written as UTF-8 JSON: lone surrogates become \\udXXX text
        for name in ("location", "detail"):
            object.__setattr__(self, name, printable(getattr(self, name)))
        object.__setattr__(self, "raw", printable(self.raw))


def _checked(item: LabelItem) -> LabelItem | Quarantined:
    """The item, or its quarantine when a field holds text that cannot be encoded."""
    for name in ("id", "question", "context", "long_answer", "gold"):
        value = getattr(item, name)
        match = _SURROGATE.search(value) if isinstance(value, str) else None
        if match:
            detail = (
                f"field {name!r}: lone surrogate U+{ord(match.group()):04X} at character {match.start()} is not "
                "valid Unicode (half of a UTF-16 pair); fix it at the source"
            )
            return Quarantined(item.location, "unencodable_text", detail, item.__dict__.copy())
    return item


def iter_input(spec: InputSpec) -> Iterator[LabelItem | Quarantined]:
    """Every record of the input, in input order, as an item or a quarantined record."""
    if spec.path is not None and Path(spec.path).is_file() and Path(spec.path).stat().st_size == 0:
        raise InputError(f"{spec.path}: the input file is empty (0 bytes); nothing to label")
    if spec.hub is not None:
        yield from _iter_hub(spec)
    elif spec.format == "pubmedqa":
        yield from _iter_pubmedqa(Path(spec.path))
    else:
        yield from _iter_jsonl(Path(spec.path), spec.fields)


def _iter_pubmedqa(path: Path) -> Iterator[LabelItem | Quarantined]:
    for where, item, raw in iter_items(path):
        if isinstance(item, MalformedItem):
            yield Quarantined(where, "malformed_item", str(item), raw)
        else:
            yield _checked(
                LabelItem(
                    id=item.pmid,
                    question=item.question,
                    context=item.context,
                    long_answer=item.long_answer,
                    location=where,
                    gold=item.final_decision,
                )
            )


def _iter_hub(spec: InputSpec) -> Iterator[LabelItem | Quarantined]:
    """A Hub dataset in the qiaojin/PubMedQA layout; offline machines get a clear error, not a traceback."""
    try:
        import datasets

        dataset = datasets.load_dataset(spec.hub, spec.hub_config, split=spec.hub_split)
    except Exception as e:  # offline, unknown name, or no access: all mean "cannot use this input"
        raise InputError(
            f"input.hub {spec.hub!r} (config {spec.hub_config!r}, split {spec.hub_split!r}) could not be loaded: "
            f"{type(e).__name__}: {e}. Without network access, download it elsewhere and pass --input PATH "
            "(ori_pqau.json, the pqa_unlabeled parquet folder, or JSONL)."
        ) from None
    for i, row in enumerate(dataset):
        where = f"{spec.hub}:{spec.hub_split}:row {i}"
        try:
            item = item_from_hub(row, where)
        except MalformedItem as e:
            yield Quarantined(where, "malformed_item", str(e), row)
            continue
        yield _checked(
            LabelItem(item.pmid, item.question, item.context, item.long_answer, where, item.final_decision)
        )


def _iter_jsonl(path: Path, fields: dict[str, str]) -> Iterator[LabelItem | Quarantined]:
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        yield from _iter_jsonl_lines(path, fields, iter_jsonl(lambda: open(path, "rb"), str(path)))  # noqa: SIM115
    except MalformedFile as e:  # e.g. a UTF-16 file: the whole input is unusable, said in one line
        raise InputError(f"{path}: {e.detail}") from None


def _iter_jsonl_lines(path: Path, fields: dict[str, str], records) -> Iterator[LabelItem | Quarantined]:
    for record in records:
        line = record.raw
        where = f"{path}:{record.location['line']}"
        if record.error is not None:  # a line over the size limit: its head is kept, never the whole line
            yield Quarantined(where, record.error.reason, record.error.detail, _raw_line(line))
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as e:  # bad JSON or bytes, an integer over Python's digit limit
            yield Quarantined(where, "bad_json", f"invalid JSON: {e}", _raw_line(line))
            continue
        item = _item_from_fields(row, fields, where)
        if isinstance(item, Quarantined):  # keep the line as it was in the file, not its parsed value
            yield Quarantined(item.location, item.reason, item.detail, _raw_line(line))
        else:
            yield _checked(item)


def _raw_line(line: bytes) -> Any:
    """A line of the input as text, or {"base64": ...} when it is not UTF-8 (kept byte for byte)."""
    text, encoding = raw_to_json(line)
    return text if encoding == "text" else {"base64": text}


def _item_from_fields(row: Any, fields: dict[str, str], where: str) -> LabelItem | Quarantined:
    if not isinstance(row, dict):
        return Quarantined(where, "bad_field", "expected a JSON object", row)
    values = {}
    for name, column in fields.items():
        value = row.get(column)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = "\n\n".join(value)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
            return Quarantined(where, "bad_field", f"field {column!r} must be text", row)
        values[name] = "" if value is None else str(value)
    for required in ("id", "question"):
        if not values.get(required, "").strip():
            return Quarantined(where, "missing_field", f"field {fields[required]!r} is missing or empty", row)
    return LabelItem(
        id=values["id"],
        question=values["question"],
        context=values.get("context", ""),
        long_answer=values.get("long_answer", ""),
        location=where,
        gold=values.get("gold") or None,
    )
