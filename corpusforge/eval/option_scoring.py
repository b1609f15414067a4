"""Score an option by what a model would write for it: one scoring for the labeller's PPL strategy and for
`corpusforge eval`.

A chat model asked for "A) yes" may answer "A", "Yes" or "yes"; scoring only one spelling ("yes" as the reply's
first token) makes an option unreachable when the model spells it otherwise ("maybe" at -13.7 against "Yes" at
-2.7 on SmolLM2). So every option is scored in the form the prompt asks for and in the forms chat models use, each
form's log-likelihood is length-normalized (mean per token, "perplexity") or summed ("loglikelihood"), and the
forms of one option are combined by log-sum-exp (the probability of writing the option in any of its forms).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

RANK_BY = ("perplexity", "loglikelihood")


def answer_forms(key: str, text: str, asked: str | None = None) -> tuple[str, ...]:
    """The spellings of option (key, text): the asked form first, then "A) yes", "A", "yes", "Yes" (no repeats)."""
    forms = [asked] if asked else []
    forms += [f"{key}) {text}", key, text, text[:1].upper() + text[1:]]
    return tuple(dict.fromkeys(f for f in forms if f))


def options_forms(options: Sequence[tuple[str, str]], asked: Sequence[str] | None = None) -> list[tuple[str, ...]]:
    """answer_forms for every option, in option order (`asked`: each option's asked form, or None)."""
    return [answer_forms(k, t, asked[i] if asked else None) for i, (k, t) in enumerate(options)]


def combine_forms(logprobs: Sequence[float], token_counts: Sequence[int], rank_by: str = "perplexity") -> float:
    """One option's score from its forms' summed log-probabilities and token counts (higher is better)."""
    if rank_by not in RANK_BY:
        raise ValueError(f"rank_by must be one of {RANK_BY}, not {rank_by!r}")
    if rank_by == "perplexity":
        values = [lp / max(n, 1) for lp, n in zip(logprobs, token_counts)]
    else:
        values = list(logprobs)
    top = max(values)
    if math.isinf(top):
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def option_scores(
    forms: Sequence[Sequence[str]],
    logprobs: Sequence[float],
    token_counts: Sequence[int],
    rank_by: str = "perplexity",
) -> list[float]:
    """Per option, the combined score; `logprobs`/`token_counts` are flat, in the order of `forms` flattened."""
    expected = sum(len(f) for f in forms)
    if len(logprobs) != expected or len(token_counts) != expected:
        raise ValueError(f"{len(logprobs)} scores and {len(token_counts)} token counts for {expected} answer forms")
    scores, at = [], 0
    for option_forms in forms:
        n = len(option_forms)
        scores.append(combine_forms(logprobs[at : at + n], token_counts[at : at + n], rank_by))
        at += n
    return scores
