"""Repetition loops in generations: a tail repeated back to back, or one sentence written again and again."""

import pytest

from corpusforge.llm.repetition import repetition_loop


@pytest.mark.parametrize(
    "text",
    [
        "Step-2: Answer the question\nThe answer is A) yes.\n\nThe answer is A) yes.\n\nThe answer is A) yes.",
        "Some reasoning first. " + "the drug is a new drug that " * 8,
        "The Snellen chart measures acuity. It is used widely. The Snellen chart measures acuity. Fine. "
        "The Snellen chart measures acuity.",
    ],
)
def test_loops_are_found(text):
    assert repetition_loop(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "The study randomised 120 patients. Mobilisation on day one shortened the stay by two days. So yes.",
        "No no no.",  # short repeats are not a loop
        "The answer is A) yes. The answer is A) yes.",  # twice is not a loop
    ],
)
def test_ordinary_text_is_not_a_loop(text):
    assert not repetition_loop(text)
