"""The stage-2/3 instruction record (schemas/instruction.schema.json) and how it travels through a pipeline.

Inside a datatrove pipeline a record is carried by a Document:
    Document(id=record["id"], text=flat_text(record), metadata={"record": record, "source", "provenance", ...})
`text` is the flat text that dedup and decontamination look at (question + context + options + answer, or the
turns of a free-form exchange); the record itself is what the build writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from corpusforge.formats.multiple_choice.question import MCQuestion
from corpusforge.output.schemas import validation_errors

Language = Literal["en", "zh", "multi"]
SCHEMA = "instruction"
PROVENANCE_FIELDS = {"file": str, "line": int, "row": int, "pmid": str, "record_id": str}


def messages_from(user: str, assistant: str, system: str | None = None) -> list[dict[str, str]]:
    """A single-turn chat: optional system prompt, the user turn and the target."""
    turns = [{"role": "system", "content": system}] if system else []
    return turns + [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


def make_record(
    *,
    id: str,
    source: str,
    task: str,
    task_id: int,
    language: Language,
    messages: Sequence[dict[str, str]],
    provenance: dict[str, Any],
    mc: MCQuestion | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An instruction record as a plain dict (field order as in the schema); `meta` becomes JSON text.

    Provenance keeps the schema's fields (file, line, row, pmid, record_id; absent ones are null) so every record
    has the same shape in parquet; any other location detail goes into meta as `location`.
    """
    extra = {k: v for k, v in provenance.items() if k not in PROVENANCE_FIELDS and v is not None}
    if extra:
        meta = {**(meta or {}), "location": extra}
    return {
        "id": id,
        "source": source,
        "task": task,
        "task_id": task_id,
        "language": language,
        "messages": [dict(m) for m in messages],
        "mc": mc.to_record() if mc else None,
        "provenance": {k: provenance.get(k) for k in PROVENANCE_FIELDS},
        "meta": json.dumps(meta, ensure_ascii=False, sort_keys=True) if meta else None,
    }


def record_meta(record: dict[str, Any]) -> dict[str, Any]:
    """The record's `meta` (JSON text as written, or a dict already parsed) as a dict; empty when absent."""
    meta = record.get("meta")
    return json.loads(meta) if isinstance(meta, str) else dict(meta or {})


def flat_text(record: dict[str, Any]) -> str:
    """The text dedup and decontamination compare: the MC fields when present, else the chat turns."""
    mc = record.get("mc")
    if mc:
        parts = [mc.get("context") or "", mc["question"]]
        parts += [f"{o['key']}) {o['text']}" for o in mc["options"]]
        parts.append(f"Answer: {mc['answer']}")
        return "\n".join(p for p in parts if p)
    return "\n".join(m["content"] for m in record["messages"] if m["role"] != "system")


def question_text(record: dict[str, Any]) -> str:
    """The part of a record an evaluation item could leak into: question and context, or the user turns."""
    mc = record.get("mc")
    if mc:
        return "\n".join(p for p in (mc["question"], mc.get("context") or "") if p)
    return "\n".join(m["content"] for m in record["messages"] if m["role"] == "user")


def record_errors(record: dict[str, Any]) -> list[str]:
    """Every way `record` breaks the instruction schema, plus checks JSON Schema cannot express."""
    errors = validation_errors(SCHEMA, record)
    mc = record.get("mc")
    if not errors and mc:
        keys = [o["key"] for o in mc["options"]]
        if len(set(keys)) != len(keys):
            errors.append(f"mc.options: duplicate keys {keys}")
        if mc["answer"] not in keys:
            errors.append(f"mc.answer: {mc['answer']!r} is not one of the option keys {keys}")
    return errors
