"""A multiple-choice source of known shape, described by its field names (`FieldMap`), so a recipe can read a new
source without code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import field_validator

from corpusforge.config import StrictModel
from corpusforge.formats.multiple_choice.fields import field_value, optional_text, plain_value, required_text
from corpusforge.formats.multiple_choice.layouts import AUTO, MCLayout, parse_answer, parse_options
from corpusforge.formats.multiple_choice.question import KEYS, MalformedQuestion, MCQuestion

FIELD_ALIASES = {
    "question": ("Question", "stem", "input", "query", "prompt", "question_text"),
    "options": ("Options", "option", "choices", "opts", "answers", "candidates"),
    "answer": ("Answer", "answer_idx", "label", "target", "correct", "correct_answer", "answerKey", "cop", "ra"),
}


class FieldMap(StrictModel):
    """Where a new multiple-choice source keeps each field, so a recipe can read it without code.

    - `options`: one field holding {"A": text, ...}, a list of texts, or "A xxx\\nB xxx" text; or a list of fields,
      one option each (["opa", "opb", "opc", "opd"]). `options_format` pins which (default: detected per file).
    - `answer_format`: letter ("B"), letter_text ("B. text"), index0 (1 means B), index1 (2 means B) or text (the
      option's text); `auto` (the default) detects it per file from the first rows.
    - dotted names reach into nested objects ("context.contexts"). `meta`: fields copied to meta (default: none).
    """

    question: str = "question"
    options: str | list[str] = "options"
    answer: str = "answer"
    answer_format: Literal["auto", "letter", "letter_text", "index0", "index1", "text"] = "auto"
    options_format: Literal["auto", "dict", "list", "text"] = "auto"
    explanation: str | None = None
    context: str | None = None
    id: str | None = None
    meta: list[str] = []

    @field_validator("options")
    @classmethod
    def _options_not_empty(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and len(value) < 2:
            raise ValueError("a list of option fields needs at least 2 names")
        return value

    def pinned(self) -> tuple[str | None, str | None]:
        """(options format, answer format) the recipe fixed, None where it left detection on."""
        options = "columns" if isinstance(self.options, list) else None
        if self.options_format != "auto":
            options = self.options_format
        return options, (None if self.answer_format == "auto" else self.answer_format)

    def names(self, row: Mapping[str, Any]) -> tuple[str, str | list[str], str]:
        """(question, options, answer) field names for `row`: the recipe's, and for a name the recipe left at its
        default that `row` lacks, the first of the usual spellings it has (Question, stem, choices, option,
        label, target, answerKey...), so common layouts need no mapping at all."""
        names = []
        for name in ("question", "options", "answer"):
            value = getattr(self, name)
            if name not in self.model_fields_set and isinstance(value, str) and value not in row:
                value = next((alias for alias in FIELD_ALIASES[name] if alias in row), value)
            names.append(value)
        return names[0], names[1], names[2]

    def layout(self) -> MCLayout:
        options, answer = self.pinned()
        return MCLayout(options, answer, "set in the recipe") if options or answer else AUTO


def mapped_options(row: Mapping[str, Any], spec: str | list[str], layout: MCLayout) -> list[tuple[str, str]]:
    if isinstance(spec, list):
        return [(KEYS[i], required_text(row, name)) for i, name in enumerate(spec)]
    return parse_options(field_value(row, spec), spec, layout)


def parse_mapped(row: Mapping[str, Any], fields: FieldMap, id: str | None = None, layout: MCLayout | None = None):
    """A row of any source whose fields `fields` names, in `layout` (default: what `fields` pins, else per row)."""
    if not isinstance(row, Mapping):
        raise MalformedQuestion("(row)", f"expected an object, got {type(row).__name__}")
    layout = layout or fields.layout()
    question_field, options_field, answer_field = fields.names(row)
    question = required_text(row, question_field)
    options = mapped_options(row, options_field, layout)
    answer = parse_answer(field_value(row, answer_field), options, answer_field, layout)
    context_value = plain_value(field_value(row, fields.context)) if fields.context else None
    if isinstance(context_value, list):  # e.g. PubMedQA's list of abstract sections
        context = "\n\n".join(str(c) for c in context_value if c) or None
    else:
        context = optional_text(row, fields.context)
    row_id = optional_text(row, fields.id) if fields.id else None
    meta = {name: plain_value(field_value(row, name)) for name in fields.meta}
    return MCQuestion(
        question,
        options,
        answer,
        explanation=optional_text(row, fields.explanation, absent_words=True),
        context=context,
        id=row_id or id,
        meta=meta,
    )
