"""The answer a reasoning states: the prompt's forms and the model's own, English and Chinese; quotes, negations
and hypotheses state nothing."""

import pytest

from corpusforge.label.config import OptionSpec
from corpusforge.label.stated import stated_answer, stated_answers

OPTIONS = [OptionSpec(key="A", text="yes"), OptionSpec(key="B", text="no"), OptionSpec(key="C", text="maybe")]


@pytest.mark.parametrize(
    "text,key",
    [
        ("Step 1 ... so the answer is C) maybe", "C"),
        ("the answer is maybe", "C"),
        ("The answer is:\n\nA) yes", "A"),
        ('Step-2: Answer\nThe answer is: "Yes."', "A"),
        ("**Answer:** B) no", "B"),
        ("The final answer is (B).", "B"),
        ("I would choose C.", "C"),
        ("Therefore the correct option is C.", "C"),
        ("答案是C", "C"),
        ("答案：可能", "C"),
        ("最终答案为否。", "B"),
        ("答案是：是的", "A"),
        ("应选A。", "A"),
        ("The answer is: Maybe.\n\nThe answer is not possible based on the context.", "C"),
        ("The answer is: No.\n\nThe answer is: No.\n\nThe answer is: No.", "B"),  # repeated, still one answer
    ],
)
def test_conclusions_name_their_option(text, key):
    assert stated_answer(text, OPTIONS) == key


@pytest.mark.parametrize(
    "text",
    [
        "",
        "The answer is not possible",
        "Think about why the answer is A) yes.",  # the prompt quoted back
        "We ask whether the answer is B) no.",
        "The answer is A new drug that lowers pressure.",  # an article, not a key
        "The answer is C) yes",  # names two options
        "1. Yes\n2. No\n3. Maybe",  # a list of the options, no conclusion
        "Yes, the study included 40 patients.",  # no answer phrase
        # every option listed as "the answer" (SmolLM2's VoC verification): no conclusion
        "The answer is A) yes.\n\nThe answer is B) no.\n\nThe answer is C) maybe.",
        "The answer is A) yes.\nOn reflection, the answer is C) maybe.",
    ],
)
def test_everything_else_states_nothing(text):
    assert stated_answer(text, OPTIONS) is None


def test_every_statement_is_listed_in_order():
    text = "The answer is A) yes.\n\nThe answer is B) no.\n\n答案是C"
    assert stated_answers(text, OPTIONS) == ["A", "B", "C"]


def test_options_of_another_task_are_found_by_their_text():
    options = [OptionSpec(key="A", text="Aspirin"), OptionSpec(key="B", text="Heparin")]
    assert stated_answer("So the correct answer is heparin.", options) == "B"
    assert stated_answer("The answer is (A) Aspirin", options) == "A"
