"""The transformers backend scores continuations on top of one run of their shared prompt (a KV cache): the
log-probabilities must be those of scoring each whole sequence on its own, the way lm-evaluation-harness does."""

from __future__ import annotations

import pytest
import torch

from corpusforge.llm.backends.base import encode_continuation
from corpusforge.llm.backends.transformers import TransformersBackend
from corpusforge.llm.config import TransformersBackendSpec
from corpusforge.llm.prompts import Message
from corpusforge.llm.requests import ScoreRequest

CONTINUATIONS = ("A) yes", "A", "yes", "Yes", "B) no", "no", "maybe", " Maybe, the evidence is unclear")


def whole_sequence_logprob(backend: TransformersBackend, ids: list[int], n: int) -> float:
    """The reference: one forward pass over the whole sequence, the last n tokens summed."""
    with torch.inference_mode():
        logits = backend.hf_model(input_ids=torch.tensor([ids])).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    return float(sum(logprobs[t - 1, ids[t]] for t in range(len(ids) - n, len(ids))))


@pytest.mark.parametrize("chat", [True, False])
def test_shared_prompt_scores_equal_whole_sequence_scores(tiny_model_dir, chat):
    backend = TransformersBackend(TransformersBackendSpec(), str(tiny_model_dir), chat=chat)
    backend.load()
    prompt = (Message("user", "Does aspirin reduce the risk of a second stroke? Answer yes, no or maybe."),)
    results = {}
    backend.run([ScoreRequest(prompt=prompt, continuations=CONTINUATIONS)], results.__setitem__)
    result = results[0]
    assert result.error is None and len(result.logprobs) == len(CONTINUATIONS)
    for continuation, logprob, count in zip(CONTINUATIONS, result.logprobs, result.token_counts):
        context, whole = encode_continuation(backend.tokenizer, prompt, chat, continuation)
        assert count == len(whole) - len(context) > 0
        assert logprob == pytest.approx(whole_sequence_logprob(backend, whole, count), abs=1e-3), continuation
    # the prompt ran once: what was not computed is reported as cached
    assert 0 < result.cached_prompt_tokens < result.prompt_tokens
