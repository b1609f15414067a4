"""MedQA (US/MCMLE/TWMLE JSONL): options as an object of letter -> text, the answer as `answer_idx` (a letter) and
`answer` (its text); copies in other option and answer layouts are read in their file's layout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from corpusforge.formats.multiple_choice.answer_keys import letter_key, same_text
from corpusforge.formats.multiple_choice.fields import (
    field_value,
    is_missing,
    optional_text,
    plain_value,
    required_text,
)
from corpusforge.formats.multiple_choice.layouts import AUTO, MCLayout, parse_answer, parse_options
from corpusforge.formats.multiple_choice.question import MalformedQuestion, MCQuestion, MissingField

MEDQA_FIELDS = ("question", "options", "answer", "answer_idx")


def medqa_layout_fields(row: Mapping[str, Any]) -> tuple[str, str]:
    """(options field, answer field) of a MedQA row: `answer_idx` (a letter) when present, else `answer`."""
    return "options", "answer_idx" if not is_missing(field_value(row, "answer_idx")) else "answer"


def parse_medqa(row: Mapping[str, Any], id: str | None = None, layout: MCLayout = AUTO) -> MCQuestion:
    """A MedQA row (US/MCMLE/TWMLE JSONL): question, options, answer (text), answer_idx, meta_info.

    Options as published ({"A": .., "E": ..}) or in the other layouts (a list of {key, value}, packed text).
    `answer_idx` wins and `answer` must then be that option's text; rows with only `answer` are read in the
    file's answer layout (the option text, "B. text", a letter or an index).
    """
    if not isinstance(row, Mapping):
        raise MalformedQuestion("(row)", f"expected an object, got {type(row).__name__}")
    question = required_text(row, "question")
    options = parse_options(field_value(row, "options"), "options", layout)
    valid = [k for k, _ in options]
    answer_text = optional_text(row, "answer")
    if not is_missing(field_value(row, "answer_idx")):
        answer = letter_key(field_value(row, "answer_idx"), "answer_idx", valid)
        if answer_text is not None and not same_text(answer_text, dict(options)[answer]):
            raise MalformedQuestion("answer", f"answer text {answer_text!r} is not the text of option {answer}")
    elif not is_missing(field_value(row, "answer")):
        answer = parse_answer(field_value(row, "answer"), options, "answer", layout)
    else:
        raise MissingField("answer_idx", "missing (and no 'answer' text either)")
    meta = {k: plain_value(v) for k, v in row.items() if k not in MEDQA_FIELDS and k != "id"}
    row_id = optional_text(row, "id") if "id" in row else None
    return MCQuestion(question, options, answer, id=row_id or id, meta=meta)
