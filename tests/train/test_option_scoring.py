"""One scoring for the labeller's PPL and `corpusforge eval`: answer forms, length-normalized, log-sum-exp."""

import math

import pytest

from corpusforge.eval.option_scoring import answer_forms, combine_forms, option_scores


def test_forms_are_the_asked_one_then_what_chat_models_write():
    assert answer_forms("C", "maybe") == ("C) maybe", "C", "maybe", "Maybe")
    assert answer_forms("B", "no", asked="B") == ("B", "B) no", "no", "No")  # no repeats


def test_forms_combine_by_log_sum_exp_of_per_token_means():
    # "Maybe" as one token at -1.0 and "C) maybe" as 4 tokens at -8.0 in all (mean -2.0)
    assert combine_forms([-8.0, -1.0], [4, 1]) == pytest.approx(math.log(math.exp(-2.0) + math.exp(-1.0)))
    assert combine_forms([-8.0, -1.0], [4, 1], "loglikelihood") == pytest.approx(
        math.log(math.exp(-8) + math.exp(-1))
    )


def test_an_option_the_model_spells_its_own_way_is_reachable():
    """SmolLM2's case: lowercase "maybe" is unlikely, but "Maybe" is not; scoring only "maybe" loses it."""
    forms = [("yes", "Yes"), ("maybe", "Maybe")]
    scores = option_scores(forms, [-2.7, -2.0, -13.7, -0.5], [1, 1, 1, 1])
    assert scores[1] > scores[0]


def test_a_backend_returning_the_wrong_number_of_scores_is_an_error():
    with pytest.raises(ValueError, match="3 scores and 3 token counts for 4 answer forms"):
        option_scores([("a", "b"), ("c", "d")], [-1.0, -2.0, -3.0], [1, 1, 1])
