"""Free-form medical QA: Wuma-QA-like question/answer files, Huatuo-26M and its encyclopedia/wiki subsets.

- `instruct.free_qa`: JSON lines / JSON array / CSV / parquet rows with a question and an answer (Wuma QA,
  Huatuo-26M-Lite, cMedQA...). Field names default to `question` / `answer`; dotted paths reach nested fields.
- `instruct.mapped_qa`: the same with the field names required in the recipe, for a new source of this shape.
- `instruct.huatuo26m`: the Huatuo-26M layout `{"questions": [...] or [[...]], "answers": [...]}` (also used by
  huatuo_encyclopedia_qa, the "Huatuo Wiki" of the paper, and huatuo_knowledge_graph_qa): several paraphrases of a
  question share one answer; the first question is used and the others are kept in `meta.question_variants`
  (one record per source row keeps the accounting one-to-one).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, Literal

from corpusforge.instruct.adapters.base import InstructParams, InstructReader
from corpusforge.pipeline.readers.base import MalformedRecord, ParsedRecord, RawRecord
from corpusforge.pipeline.registry import register


def get_path(row: dict[str, Any], path: str) -> Any:
    """`row["a"]["b"]` for path `a.b`; None when any part is missing."""
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def location_id(record: RawRecord) -> str:
    """An id from where the record was found (file name + line, row or key), for sources without ids."""
    loc = record.location
    where = loc.get("line", loc.get("row", loc.get("key", loc.get("pmid"))))
    return f"{PurePath(str(loc.get('file', ''))).name}#{where}"


def text_field(row: dict[str, Any], path: str, required: bool = True) -> str | None:
    value = get_path(row, path)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise MalformedRecord("missing_field", f"missing or empty field {path!r}")
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise MalformedRecord("bad_field", f"field {path!r} must be a string, got {type(value).__name__}")
    return value


class FreeQAParams(InstructParams):
    type: Literal["instruct.free_qa"] = "instruct.free_qa"
    question_field: str = "question"
    answer_field: str = "answer"
    id_field: str | None = None
    csv_header: bool = True


@register("instruct.free_qa", kind="reader")
class FreeQAReader(InstructReader):
    """Question/answer rows (Wuma-QA-like JSON/JSONL/CSV/parquet) -> free-form instruction records."""

    name = "instruct.free_qa"
    default_task = "free_qa"
    default_language = "zh"
    Params = FreeQAParams

    def __init__(
        self,
        *args,
        question_field: str = "question",
        answer_field: str = "answer",
        id_field: str | None = None,
        csv_header: bool = True,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.question_field = question_field
        self.answer_field = answer_field
        self.id_field = id_field
        self.csv_header = csv_header

    def record_id(self, row: dict[str, Any], record: RawRecord) -> str:
        if self.id_field:
            return text_field(row, self.id_field)
        return location_id(record)

    def parse(self, record: RawRecord) -> ParsedRecord:
        row = self.load_row(record)
        question = text_field(row, self.question_field)
        answer = text_field(row, self.answer_field)
        return self.build_qa(record, self.record_id(row, record), question, answer)


class MappedQAParams(InstructParams):
    type: Literal["instruct.mapped_qa"] = "instruct.mapped_qa"
    question_field: str
    answer_field: str
    id_field: str | None = None
    csv_header: bool = True


@register("instruct.mapped_qa", kind="reader")
class MappedQAReader(FreeQAReader):
    """Question/answer rows of any shape, with the field names given in the recipe."""

    name = "instruct.mapped_qa"
    default_task = ""
    Params = MappedQAParams


def _flatten(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _flatten(v)]
    return []


class HuatuoParams(InstructParams):
    type: Literal["instruct.huatuo26m"] = "instruct.huatuo26m"


@register("instruct.huatuo26m", kind="reader")
class Huatuo26MReader(InstructReader):
    """Huatuo-26M rows `{"questions": [...], "answers": [...]}` -> one record per row (first question)."""

    name = "instruct.huatuo26m"
    default_task = "huatuo"
    default_language = "zh"
    Params = HuatuoParams

    def parse(self, record: RawRecord) -> ParsedRecord:
        row = self.load_row(record)
        questions = [q for q in _flatten(row.get("questions", row.get("question"))) if q.strip()]
        answers = [a for a in _flatten(row.get("answers", row.get("answer"))) if a.strip()]
        if not questions:
            raise MalformedRecord("missing_field", "no non-empty question in 'questions'")
        if not answers:
            raise MalformedRecord("missing_field", "no non-empty answer in 'answers'")
        meta = {}
        if len(questions) > 1:
            meta["question_variants"] = questions[1:]
        if len(answers) > 1:
            meta["other_answers"] = answers[1:]
        local_id = str(row["id"]) if row.get("id") is not None else location_id(record)
        return self.build_qa(record, local_id, questions[0], answers[0], meta=meta or None)
