"""Model text -> option: what counts as an answer, and what is recorded as unparseable."""

import math

import pytest

from corpusforge.label.config import OptionSpec
from corpusforge.label.parsing import EMPTY, UNPARSEABLE, normalize, parse_answer

OPTIONS = [OptionSpec(key="A", text="yes"), OptionSpec(key="B", text="no"), OptionSpec(key="C", text="maybe")]


@pytest.mark.parametrize(
    "text,key",
    [
        ("A", "A"),
        (" B\n", "B"),
        ("(C)", "C"),
        ("A) yes", "A"),
        ("Answer: B", "B"),
        ("The answer is C.", "C"),
        ("yes", "A"),
        ("No.", "B"),
        ("Maybe, because", "C"),
        ("[A]", "A"),
    ],
)
def test_answers_that_name_one_option(text, key):
    assert parse_answer(text, OPTIONS).key == key


@pytest.mark.parametrize(
    "text,reason",
    [("", EMPTY), ("   \n", EMPTY), ("D", UNPARSEABLE), ("Absolutely", UNPARSEABLE), ("ressure\ufffdm", UNPARSEABLE)],
)
def test_everything_else_is_a_counted_reason(text, reason):
    parsed = parse_answer(text, OPTIONS)
    assert parsed.key is None and parsed.reason == reason


def test_normalize_is_a_softmax_over_the_options():
    probs = normalize({"A": math.log(0.2), "B": math.log(0.1), "C": math.log(0.1)})
    assert probs == pytest.approx({"A": 0.5, "B": 0.25, "C": 0.25})
    assert normalize({"A": float("-inf"), "B": float("-inf")}) == {"A": 0.5, "B": 0.5}
