"""The checks LLM steps apply to what a model wrote (no model needed)."""

from __future__ import annotations

import json

import pytest

from corpusforge.pipeline.steps.llm.checks import (
    QA_SCHEMA,
    check_exam_rewrite,
    check_kg_rewrite,
    check_qa_pairs,
    parse_json,
    schema_validator,
)


@pytest.mark.parametrize(
    ("text", "answer", "reason"),
    [
        ("Metformin is the first-line drug for type 2 diabetes.", "Metformin", None),
        ("Night blindness follows a deficiency of vitamin A. It is common.", "vitamin A", None),
        ("二甲双胍是2型糖尿病的一线治疗药物。", "二甲双胍", None),
        ("The newborn is Rh(D) positive: give anti-D immunoglobulin.", "Rh(D) positive", None),  # the answer's "(D)"
        (
            "Benzodiazepine intoxication explains the findings.",
            'Benzodiazepine intoxication\n"',
            None,
        ),  # MedQA residue
        ("Insulin is first-line.", "Metformin", "missing_answer"),
        ("A. Metformin is first-line.", "Metformin", "option_letter"),
        ("The answer is B: Metformin.", "Metformin", "option_letter"),
        ("正确答案是B，二甲双胍。", "二甲双胍", "option_letter"),
        ("Which of the following is first-line? Metformin.", "Metformin", "which_of_the_following"),
        ("下列药物中二甲双胍是一线药物。", "二甲双胍", "which_of_the_following"),
        ("Is Metformin first-line?", "Metformin", "question_mark"),
        ("二甲双胍是一线药物吗？", "二甲双胍", "question_mark"),
        ("```\n  \n```", "Metformin", "empty_output"),
    ],
)
def test_exam_rewrite_check(text, answer, reason):
    assert check_exam_rewrite(text, answer).reason == reason


def test_kg_rewrite_keeps_every_entity_ignoring_case_width_and_spacing():
    entities = ["Type 2 diabetes", "Metformin", "2型糖尿病"]
    assert check_kg_rewrite("Paragraph: METFORMIN treats type 2  diabetes; 2型 糖尿病 too.", entities).ok
    assert check_kg_rewrite("Metformin treats type 2 diabetes.", entities).reason == "lost_entity"


def test_qa_pairs_are_parsed_validated_and_filtered_one_by_one():
    validate = schema_validator(QA_SCHEMA)
    good = {
        "question": "What lowers glucose in type 2 diabetes?",
        "answer": "Metformin lowers hepatic glucose output.",
    }
    cites = {"question": "What does the passage say?", "answer": "The passage says metformin lowers glucose."}
    pairs = json.dumps({"pairs": [good, cites, good]})
    text = f"Sure! ```json\n{pairs}\n```"
    checked, left_out = check_qa_pairs(text, validate, max_pairs=3, min_answer_chars=10)
    assert checked.value == [(good["question"], good["answer"])]
    assert left_out == {"mentions_passage": 1, "repeated_question": 1}
    assert check_qa_pairs('{"pairs": []}', validate, 3, 10)[0].reason == "schema_mismatch"
    assert check_qa_pairs("no json here", validate, 3, 10)[0].reason == "invalid_json"
    assert parse_json('Answer: {"score": 4} hope this helps').value == {"score": 4}
