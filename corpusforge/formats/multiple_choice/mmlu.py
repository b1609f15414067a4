"""MMLU: the header-less per-subject CSV rows (question, A-D, answer letter) and the Hub layouts (`cais/mmlu`'s
choices and 0-based answer index, `lukaemon/mmlu`'s option columns and answer letter), and the widely shared
MedQA-style copies (`options` {A..D} with `answer_idx` a letter and `answer` its text, as in the medical-agent
benchmarks' `mmlu/test.jsonl`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from corpusforge.formats.multiple_choice.answer_keys import index_key, letter_key
from corpusforge.formats.multiple_choice.fields import field_value, plain_value, required_text
from corpusforge.formats.multiple_choice.layouts import parse_answer
from corpusforge.formats.multiple_choice.medqa import parse_medqa
from corpusforge.formats.multiple_choice.options import keyed_options
from corpusforge.formats.multiple_choice.question import MalformedQuestion, MCQuestion

# the 57 subjects of MMLU (Hendrycks et al.), as its file and config names spell them
MMLU_SUBJECTS = frozenset(
    "abstract_algebra anatomy astronomy business_ethics clinical_knowledge college_biology college_chemistry "
    "college_computer_science college_mathematics college_medicine college_physics computer_security "
    "conceptual_physics econometrics electrical_engineering elementary_mathematics formal_logic global_facts "
    "high_school_biology high_school_chemistry high_school_computer_science high_school_european_history "
    "high_school_geography high_school_government_and_politics high_school_macroeconomics high_school_mathematics "
    "high_school_microeconomics high_school_physics high_school_psychology high_school_statistics "
    "high_school_us_history high_school_world_history human_aging human_sexuality international_law "
    "jurisprudence logical_fallacies machine_learning management marketing medical_genetics miscellaneous "
    "moral_disputes moral_scenarios nutrition philosophy prehistory professional_accounting professional_law "
    "professional_medicine professional_psychology public_relations security_studies sociology "
    "us_foreign_policy virology world_religions".split()
)


def subject_name(value: Any) -> str | None:
    """A subject as MMLU's file names spell it ("Clinical Knowledge" -> clinical_knowledge), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    return "_".join(value.strip().lower().replace("-", " ").split())


def parse_mmlu_csv(row: Sequence[str], subject: str | None = None, id: str | None = None) -> MCQuestion:
    """A row of MMLU's per-subject CSV files (no header): question, A, B, C, D, answer letter."""
    if isinstance(row, (str, bytes)) or len(row) != 6:
        n = len(row) if not isinstance(row, (str, bytes)) else 1
        raise MalformedQuestion("(row)", f"expected 6 columns (question, A, B, C, D, answer), got {n}")
    named = dict(zip(("question", "A", "B", "C", "D", "answer"), row, strict=True))
    question = required_text(named, "question")
    options = [(k, required_text(named, k)) for k in "ABCD"]
    answer = letter_key(named["answer"], "answer", "ABCD")
    return MCQuestion(question, options, answer, id=id, meta={"subject": subject} if subject else {})


def parse_mmlu_hub(row: Mapping[str, Any], id: str | None = None) -> MCQuestion:
    """A row of a Hub layout: `cais/mmlu` (question, subject, choices [4 texts], answer int 0-3) or the copies with
    option columns and a letter (`lukaemon/mmlu`: input, A, B, C, D, target "C")."""
    if not isinstance(row, Mapping):
        raise MalformedQuestion("(row)", f"expected an object, got {type(row).__name__}")
    if "options" in row and "choices" not in row:  # the MedQA-style copies: options {A..D}, answer_idx / answer
        question = parse_medqa(row, id=id)
        subject = subject_name(question.meta.pop("subject", None))
        question.meta = {"subject": subject} if subject else {}
        return question
    if "question" not in row and "input" in row:
        question = required_text(row, "input")
    else:
        question = required_text(row, "question")
    if "choices" not in row and all(k in row for k in "ABCD"):
        options = [(k, required_text(row, k)) for k in "ABCD" if k in row] + (
            [("E", required_text(row, "E"))] if "E" in row else []
        )
    else:
        choices = plain_value(field_value(row, "choices"))
        if not isinstance(choices, list):
            raise MalformedQuestion("choices", f"expected a list of option texts, got {type(choices).__name__}")
        options = keyed_options(choices, "choices")
    answer_field = "answer" if "answer" in row or "target" not in row else "target"
    value = plain_value(field_value(row, answer_field))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        answer = index_key(value, answer_field, len(options), 0)  # the Hub's 0-based index
    else:
        answer = parse_answer(value, options, answer_field)
    meta = {"subject": plain_value(row["subject"])} if "subject" in row else {}
    return MCQuestion(question, options, answer, id=id, meta=meta)
