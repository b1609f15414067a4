"""CMExam: the options packed into one "A xxx\\nB xxx" text, the answer as option letter(s), annotation columns kept
as meta."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from corpusforge.formats.multiple_choice.fields import field_value, optional_text, plain_value, required_text
from corpusforge.formats.multiple_choice.layouts import AUTO, MCLayout, parse_answer, parse_options
from corpusforge.formats.multiple_choice.question import MCQuestion

CMEXAM_FIELDS = ("Question", "Options", "Answer", "Explanation")


def parse_cmexam(row: Mapping[str, Any], id: str | None = None, layout: MCLayout = AUTO) -> MCQuestion:
    """A CMExam row (Question, Options "A xxx\\nB xxx...", Answer, Explanation + annotation columns -> meta).

    Options are one text, lines joined by newlines (the CSV release) or by a literal backslash-n (spreadsheet
    copies). Multi-answer rows ("ABD") raise MultiAnswerQuestion (see its policy). An Explanation of "nan" (an
    empty spreadsheet cell) is absent.
    """
    question = required_text(row, "Question")
    options = parse_options(field_value(row, "Options"), "Options", layout)
    answer = parse_answer(field_value(row, "Answer"), options, "Answer", layout)
    meta = {k: plain_value(v) for k, v in row.items() if k not in CMEXAM_FIELDS and k is not None}
    explanation = optional_text(row, "Explanation", absent_words=True)
    return MCQuestion(question, options, answer, explanation=explanation, id=id, meta=meta)
