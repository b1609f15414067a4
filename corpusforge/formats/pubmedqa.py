"""PubMedQA in its real layouts.

- the original `ori_pqal.json` / `ori_pqau.json`: one JSON object keyed by PMID, with QUESTION, CONTEXTS,
  LABELS, MESHES, YEAR, LONG_ANSWER and (PQA-L only) final_decision;
- the Hub layout of `qiaojin/PubMedQA` (parquet, or JSON lines with the same columns): pubid, question,
  context{contexts, labels, meshes}, long_answer, final_decision;
- `test_ground_truth.json`: the official 500-PMID test split, PMID -> label. The test set is always selected by
  these PMIDs, never by row position.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from corpusforge.errors import InputError
from corpusforge.io.input_records import MalformedFile, RowRecord
from corpusforge.io.json_layouts import iter_json_document, iter_jsonl
from corpusforge.io.lone_surrogates import find_unencodable
from corpusforge.io.quarantine import raw_to_json

LABELS = ("yes", "no", "maybe")


class MalformedItem(ValueError):
    """One PubMedQA item that cannot be used; the message names the PMID/row and the field."""


@dataclass
class PubMedQAItem:
    pmid: str
    question: str
    contexts: list[str]
    context_labels: list[str] = field(default_factory=list)
    meshes: list[str] = field(default_factory=list)
    long_answer: str = ""
    final_decision: str | None = None
    year: str | None = None

    @property
    def context(self) -> str:
        """The abstract as one text (sections joined by blank lines)."""
        return "\n\n".join(self.contexts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pmid(value: Any, name: str, where: str) -> str:
    """A PMID is digits, as a string or an integer; a boolean (`true` is 1 to Python) or anything else is an error."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise MalformedItem(f"{where}: field {name!r} must be a PMID (text or integer), got {value!r}")
    return str(value).strip()


def _as_str_list(value: Any, name: str, where: str) -> list[str]:
    if value is None:
        return []
    if hasattr(value, "tolist"):  # numpy arrays from parquet
        value = value.tolist()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MalformedItem(f"{where}: field {name!r} must be a list of strings")
    return value


def _text(value: Any, name: str, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedItem(f"{where}: field {name!r} must be text, got {type(value).__name__}")
    return value


def _year(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise MalformedItem(f"{where}: field 'YEAR' must be a year, got {value!r}")
    return str(value)


def _question(value: Any, field: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MalformedItem(f"{where}: missing field {field!r}")
    return value


def _decision(value: Any, where: str) -> str | None:
    if value is not None and value not in LABELS:
        raise MalformedItem(f"{where}: final_decision {value!r} is not one of {LABELS}")
    return value


def item_from_original(pmid: str, data: Any, where: str = "") -> PubMedQAItem:
    """One entry of ori_pqal.json / ori_pqau.json (keys QUESTION, CONTEXTS, ...)."""
    where = where or f"PMID {pmid}"
    if not isinstance(data, dict):
        raise MalformedItem(f"{where}: expected an object, got {type(data).__name__}")
    question = _question(data.get("QUESTION"), "QUESTION", where)
    decision = _decision(data.get("final_decision"), where)
    lists = [(data.get(name), name) for name in ("CONTEXTS", "LABELS", "MESHES")]
    long_answer = (data.get("LONG_ANSWER"), "LONG_ANSWER")
    return _item(str(pmid), question, decision, lists, long_answer, where, year=data.get("YEAR"))


def item_from_hub(row: dict[str, Any], where: str = "") -> PubMedQAItem:
    """One row of the Hub layout (pubid, question, context{contexts, labels, meshes}, long_answer, ...)."""
    pmid = row.get("pubid")
    where = where or f"pubid {pmid}"
    if pmid is None:
        raise MalformedItem(f"{where}: missing field 'pubid'")
    pmid = _pmid(pmid, "pubid", where)
    question = _question(row.get("question"), "question", where)
    context = row.get("context") or {}
    if not isinstance(context, dict):
        raise MalformedItem(f"{where}: field 'context' must be an object")
    decision = _decision(row.get("final_decision"), where)
    lists = [(context.get(name), f"context.{name}") for name in ("contexts", "labels", "meshes")]
    return _item(pmid, question, decision, lists, (row.get("long_answer"), "long_answer"), where)


def _item(
    pmid: str,
    question: str,
    decision: str | None,
    lists: list[tuple[Any, str]],
    long_answer: tuple[Any, str],
    where: str,
    year: Any = None,
) -> PubMedQAItem:
    """The item either layout describes, its remaining fields checked in one order: contexts, context labels and
    MeSH terms (each `(value, name as the layout spells it)`), then the long answer, then the year."""
    contexts, context_labels, meshes = (_as_str_list(value, name, where) for value, name in lists)
    return PubMedQAItem(
        pmid=pmid,
        question=question,
        contexts=contexts,
        context_labels=context_labels,
        meshes=meshes,
        long_answer=_text(*long_answer, where),
        final_decision=decision,
        year=_year(year, where),
    )


def item_from_any(row: dict[str, Any], where: str) -> PubMedQAItem:
    """A JSON-lines row in either layout (the Hub columns, or an original entry with a `pmid`/`PMID` key)."""
    if "pubid" in row:
        return item_from_hub(row, where)
    pmid = row.get("pmid", row.get("PMID"))
    if pmid is None:
        raise MalformedItem(f"{where}: no 'pubid' or 'pmid' field")
    return item_from_original(_pmid(pmid, "pmid", where), row, where)


def iter_items(path: str | Path) -> Iterator[tuple[str, PubMedQAItem | MalformedItem, Any]]:
    """Yield (location, item or the MalformedItem explaining why not, raw record) for every record in `path`.

    `path` is an original .json dict, a .jsonl file, a .parquet file, or a folder of parquet files.
    Bad records are yielded, not raised, so the caller can count and keep them.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.rglob("*.parquet"))
        if not files:
            raise InputError(f"{path}: no .parquet files in this folder")
        for file in files:
            yield from iter_items(file)
        return
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    suffixes = "".join(path.suffixes[-2:])
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        for i, row in enumerate(table.to_pylist()):
            where = f"{path}:row {i}"
            try:
                yield where, item_from_hub(row, where), row
            except MalformedItem as e:
                yield where, e, row
    else:
        yield from _iter_json_items(path, ".jsonl" in suffixes)


def _iter_json_items(path: Path, lines: bool) -> Iterator[tuple[str, PubMedQAItem | MalformedItem, Any]]:
    """Items of a JSON file in any of its layouts (object keyed by PMID, compact or pretty; JSON lines; array),
    told apart by parsing (corpusforge/io/json_layouts.py). A file that is no JSON layout at all is an InputError; one
    that breaks after some items yields those, then one MalformedItem for the rest."""

    def opener():
        return open(path, "rb")

    records = iter_jsonl(opener, str(path)) if lines else iter_json_document(opener, str(path))
    count = 0
    try:
        for record in records:
            count += 1
            loc = record.location
            if "key" in loc:
                where = f"{path}:PMID {loc['key']}"
            elif "line" in loc:
                where = f"{path}:{loc['line']}"
            else:
                where = f"{path}:element {loc.get('element')}"
            data, error = _record_data(record, where)
            text, encoding = raw_to_json(record.raw)
            # the parsed entry (its JSON text when it did not parse or is null), or its bytes (base64) when not UTF-8
            raw: Any = {"base64": text} if encoding == "base64" else (text if error or data is None else data)
            try:
                if error:
                    raise error
                yield where, _item_of_record(record, data, where), raw
            except MalformedItem as e:
                yield where, e, raw
    except MalformedFile as e:
        if not count:
            raise InputError(f"{path}: not a PubMedQA JSON file: {e.detail}") from None
        where = f"{path}:{e.location.get('line')}"
        text, encoding = raw_to_json(e.raw or b"")
        yield where, MalformedItem(f"{where}: {e.detail}"), text if encoding == "text" else {"base64": text}


def _record_data(record: Any, where: str) -> tuple[Any, MalformedItem | None]:
    """The record's parsed JSON value, or the MalformedItem saying why it has none."""
    if isinstance(record, RowRecord):
        return record.data, None
    try:
        return json.loads(record.raw), None
    except (ValueError, RecursionError) as e:  # bad JSON or bytes, an integer over Python's digit limit
        return None, MalformedItem(f"{where}: invalid JSON ({e})")


def _item_of_record(record: Any, data: Any, where: str) -> PubMedQAItem:
    if "key" in record.location:
        item = item_from_original(record.location["key"], data, where)
    elif isinstance(data, dict):
        item = item_from_any(data, where)
    else:
        raise MalformedItem(f"{where}: expected a JSON object")
    fields = [item.pmid, item.question, item.long_answer, item.year or "", *item.contexts, *item.context_labels]
    found = find_unencodable("\n".join([*fields, *item.meshes]), "item")
    if found:
        raise MalformedItem(
            f"{where}: lone surrogate U+{ord(found[2]):04X} is not valid Unicode (fix it at the source)"
        )
    return item


def load_items(path: str | Path) -> list[PubMedQAItem]:
    """All items of `path`; raises InputError on the first malformed record (use iter_items to keep going)."""
    items = []
    for _, item, _ in iter_items(path):
        if isinstance(item, MalformedItem):
            raise InputError(str(item))
        items.append(item)
    return items


def load_test_ground_truth(path: str | Path) -> dict[str, str]:
    """The official test split: {PMID: label} from test_ground_truth.json."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found (the official test_ground_truth.json)")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(v in LABELS for v in data.values()):
        raise InputError(f"{path}: expected an object PMID -> one of {LABELS}")
    return {str(k): v for k, v in data.items()}
