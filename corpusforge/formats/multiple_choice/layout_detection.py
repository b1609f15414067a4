"""Detecting a file's layout: which fields of each exam format vary between copies, and the layout most of a
file's first rows are written in (formats pinned in the recipe win)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from corpusforge.formats.multiple_choice.fields import field_value
from corpusforge.formats.multiple_choice.layouts import AUTO, LayoutVote, MCLayout
from corpusforge.formats.multiple_choice.mapped import FieldMap, mapped_options
from corpusforge.formats.multiple_choice.medmcqa import medmcqa_layout_fields
from corpusforge.formats.multiple_choice.medqa import medqa_layout_fields
from corpusforge.formats.multiple_choice.question import MalformedQuestion

ExamFormat = Literal["medqa", "medmcqa", "cmexam", "mmlu", "mmlu_hub", "mapped"]


def layout_fields(fmt: str, row: Any, fields: FieldMap | None = None) -> tuple[str | list[str], str] | None:
    """(options field(s), answer field) whose layout varies between copies of `fmt`; None when fixed."""
    if not isinstance(row, Mapping):
        return None
    if fmt == "medqa":
        return medqa_layout_fields(row)
    if fmt == "medmcqa":
        return medmcqa_layout_fields(row)
    if fmt == "cmexam":
        return "Options", "Answer"
    if fmt == "mapped" and fields is not None:
        _, options, answer = fields.names(row)
        return options, answer
    return None


def detect_layout(
    fmt: str,
    rows: Iterable[Any],
    fields: FieldMap | None = None,
    options_format: str | None = None,
    answer_format: str | None = None,
) -> MCLayout:
    """The layout most of `rows` (a file's first rows) are written in; pinned formats win (see LayoutVote)."""
    if fields is not None:
        pinned_options, pinned_answer = fields.pinned()
        options_format = options_format or pinned_options
        answer_format = answer_format or pinned_answer
    vote = LayoutVote()
    for row in rows:
        names = layout_fields(fmt, row, fields)
        if names is None:
            continue
        options_spec, answer_field = names
        try:
            options = mapped_options(row, options_spec, AUTO)
        except MalformedQuestion:
            options = None
        options_value = field_value(row, options_spec) if isinstance(options_spec, str) else None
        vote.add(options_value, field_value(row, answer_field), options)
    if isinstance((fields.options if fields else None), list):
        options_format = options_format or "columns"
    return vote.layout(options_format, answer_format)
