"""Model text -> option: what counts as an answer, and what is recorded as unparseable."""

import math

import pytest

from corpusforge.label.config import OptionSpec
from corpusforge.label.parsing import EMPTY, NOT_AN_OPTION, UNPARSEABLE, normalize, parse_answer
from corpusforge.label.strategies import StrategyOutcome, vote

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
    [
        ("", EMPTY),
        ("   \n", EMPTY),
        ("D", NOT_AN_OPTION),
        ("(E)", NOT_AN_OPTION),
        ("Absolutely", UNPARSEABLE),
        ("ressure\ufffdm", UNPARSEABLE),
    ],
)
def test_everything_else_is_a_counted_reason(text, reason):
    parsed = parse_answer(text, OPTIONS)
    assert parsed.key is None and parsed.reason == reason


def test_normalize_is_a_softmax_over_the_options():
    probs = normalize({"A": math.log(0.2), "B": math.log(0.1), "C": math.log(0.1)})
    assert probs == pytest.approx({"A": 0.5, "B": 0.25, "C": 0.25})
    assert normalize({"A": float("-inf"), "B": float("-inf")}) == {"A": 0.5, "B": 0.5}


def outcome(key, probs=None):
    return StrategyOutcome("voc", "0" * 16, key=key, option_probs=probs)


def test_the_vote_counts_unlabeled_strategies_as_disagreeing():
    result = vote([outcome("A", {"A": 0.6, "B": 0.3, "C": 0.1}), outcome("A"), outcome(None)], ("A", "B", "C"))
    assert (result.key, result.counts, result.agreement) == ("A", {"A": 2, "B": 0, "C": 0}, pytest.approx(2 / 3))
    assert result.confidence == pytest.approx(0.6)  # the mean over strategies that reported probabilities


def test_a_tie_goes_to_the_label_with_more_probability_mass():
    tied = [outcome("A", {"A": 0.5, "B": 0.4, "C": 0.1}), outcome("B", {"A": 0.1, "B": 0.8, "C": 0.1})]
    result = vote(tied, ("A", "B", "C"))
    assert result.key == "B" and result.agreement == 0.5 and result.confidence == pytest.approx(0.6)
    assert vote([outcome(None), outcome(None)], ("A", "B", "C")).key is None
