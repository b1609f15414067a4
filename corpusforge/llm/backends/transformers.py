"""transformers, for small CPU runs: batched `generate` with left padding, and scoring that runs each prompt once.

Requests with the same sampling settings are generated together in batches of `batch_size`, sorted by length so
little padding is computed; the choice constraint is a logits processor that only allows the token sequences of
the choices (then end of sequence), so the answer is always one of them. JSON Schema and regex requests are
constrained with xgrammar (backends/structured.py), as vLLM constrains them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from corpusforge.llm.backends import structured
from corpusforge.llm.backends.base import (
    PROMPT_TOO_LONG,
    Backend,
    OnResult,
    choice_token_ids,
    encode_continuation,
    encode_prompt,
)
from corpusforge.llm.config import TransformersBackendSpec
from corpusforge.llm.requests import GenerateRequest, GenerateResult, Request, ScoreRequest, ScoreResult


class TransformersBackend(Backend):
    name = "transformers"
    constrains_structure = True  # JSON Schema / regex with xgrammar (structured.py); answers are checked too

    def __init__(self, spec: TransformersBackendSpec, model: str, chat: bool):
        super().__init__(spec, model, chat)
        self.hf_model = None
        self.tokenizer = None
        self.max_model_len: int = 0
        self.grammars: structured.GrammarCache | None = None

    def load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        dtype = "auto" if self.spec.dtype == "auto" else getattr(torch, self.spec.dtype)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.hf_model = AutoModelForCausalLM.from_pretrained(self.model, dtype=dtype).to(self.spec.device).eval()
        self.max_model_len = self.spec.max_model_len or self.hf_model.config.max_position_embeddings

    def run(self, requests: Sequence[Request], on_result: OnResult) -> None:
        groups: dict[tuple, list[tuple[int, list[int]]]] = defaultdict(list)
        scores: list[tuple[int, ScoreRequest]] = []
        for i, request in enumerate(requests):
            if isinstance(request, ScoreRequest):
                scores.append((i, request))
                continue
            ids = encode_prompt(self.tokenizer, request.prompt, self.chat)
            if len(ids) + request.max_tokens > self.max_model_len:
                on_result(i, GenerateResult(text="", error=PROMPT_TOO_LONG, prompt_tokens=len(ids)))
                continue
            settings = (request.max_tokens, request.temperature, request.top_p, request.seed, request.choices,
                        request.json_schema, request.regex)  # fmt: skip
            groups[settings].append((i, ids))
        for members in groups.values():
            members.sort(key=lambda m: len(m[1]))
            for start in range(0, len(members), self.spec.batch_size):
                batch = members[start : start + self.spec.batch_size]
                self._generate_batch([requests[i] for i, _ in batch], [i for i, _ in batch], batch, on_result)
        if scores:
            self._score_all(scores, on_result)

    def _generate_batch(self, batch_requests, indexes, members, on_result: OnResult) -> None:
        import torch

        started = time.perf_counter()
        request: GenerateRequest = batch_requests[0]  # a batch shares its sampling settings
        input_ids, attention = self._left_pad([ids for _, ids in members])
        kwargs: dict[str, Any] = {
            "max_new_tokens": request.max_tokens,
            "do_sample": request.temperature > 0,
            "pad_token_id": self.tokenizer.pad_token_id,
            "return_dict_in_generate": True,
            "output_logits": True,
        }
        if request.temperature > 0:
            kwargs.update(temperature=request.temperature, top_p=request.top_p)
            torch.manual_seed(request.seed)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if request.choices:
            from transformers import LogitsProcessorList

            kwargs["logits_processor"] = LogitsProcessorList(
                [ChoiceConstraint(self._choice_sequences(request.choices), self.tokenizer.eos_token_id)]
            )
        elif request.json_schema or request.regex:
            if self.grammars is None:
                self.grammars = structured.GrammarCache(self.tokenizer, self.hf_model.config.vocab_size)
            kwargs["logits_processor"] = [self.grammars.logits_processor(request.json_schema, request.regex)]
        with torch.inference_mode():
            out = self.hf_model.generate(input_ids=input_ids, attention_mask=attention, **kwargs)
        seconds = time.perf_counter() - started
        new_tokens = out.sequences[:, input_ids.shape[1] :]
        first_logprobs = torch.log_softmax(out.logits[0].float(), dim=-1) if out.logits else None
        choice_ids = choice_token_ids(self.tokenizer, request.score_choices) if request.score_choices else None
        for row, (i, ids) in enumerate(members):
            tokens = new_tokens[row].tolist()
            if self.tokenizer.eos_token_id in tokens:
                tokens = tokens[: tokens.index(self.tokenizer.eos_token_id) + 1]
            choice_logprobs = None
            if choice_ids is not None and first_logprobs is not None:
                choice_logprobs = {
                    c: float(first_logprobs[row, t]) for c, t in zip(batch_requests[row].score_choices, choice_ids)
                }
            on_result(
                i,
                GenerateResult(
                    text=self.tokenizer.decode(tokens, skip_special_tokens=True),
                    finish_reason="stop" if tokens and tokens[-1] == self.tokenizer.eos_token_id else "length",
                    choice_logprobs=choice_logprobs,
                    prompt_tokens=len(ids),
                    completion_tokens=len(tokens),
                    seconds=seconds,
                ),
            )

    def _score_all(self, scores: list[tuple[int, ScoreRequest]], on_result: OnResult) -> None:
        """Each request's continuations share its prompt: the prompt runs once and its KV cache is kept, then all
        continuations run in one batch on top of it. PPL's 12 answer forms after a 500-token PubMedQA prompt cost
        one prompt instead of 12 (and the prompt's own logits are never computed)."""
        started = time.perf_counter()
        for i, request in scores:
            pairs = [encode_continuation(self.tokenizer, request.prompt, self.chat, c) for c in request.continuations]
            if any(len(whole) > self.max_model_len for _, whole in pairs):
                on_result(i, ScoreResult(error=PROMPT_TOO_LONG))
                continue
            context = pairs[0][0]  # the same for every continuation: it is the prompt's own encoding
            suffixes = [whole[len(context) :] for _, whole in pairs]
            prompt_tokens = sum(len(whole) for _, whole in pairs)
            computed = len(context) - 1 + sum(len(suffix) + 1 for suffix in suffixes)
            on_result(
                i,
                ScoreResult(
                    logprobs=self._continuation_logprobs(context, suffixes),
                    token_counts=[len(suffix) for suffix in suffixes],
                    prompt_tokens=prompt_tokens,
                    cached_prompt_tokens=max(prompt_tokens - computed, 0),
                    seconds=time.perf_counter() - started,
                ),
            )

    def _continuation_logprobs(self, context: list[int], suffixes: list[list[int]]) -> list[float]:
        """Summed log-probability of each suffix after `context`: the context but its last token fills a KV cache,
        then each row is (last context token, suffix...), right-padded, so position j predicts suffix token j."""
        import torch

        device = self.spec.device
        prefix, last = context[:-1], context[-1]
        with torch.inference_mode():
            cache = None
            if prefix:
                cache = self.hf_model(
                    input_ids=torch.tensor([prefix], device=device), use_cache=True, logits_to_keep=1
                ).past_key_values
                cache.batch_repeat_interleave(len(suffixes))
            width = max(len(suffix) for suffix in suffixes) + 1
            pad = self.tokenizer.pad_token_id
            rows = [[last, *suffix] + [pad] * (width - len(suffix) - 1) for suffix in suffixes]
            mask = [[1] * (len(prefix) + len(suffix) + 1) + [0] * (width - len(suffix) - 1) for suffix in suffixes]
            logits = self.hf_model(
                input_ids=torch.tensor(rows, device=device),
                attention_mask=torch.tensor(mask, device=device),
                past_key_values=cache,
                use_cache=cache is not None,
            ).logits
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        return [
            float(sum(logprobs[row, j, token] for j, token in enumerate(suffix)))
            for row, suffix in enumerate(suffixes)
        ]

    def _left_pad(self, sequences: list[list[int]]):
        import torch

        width = max(len(s) for s in sequences)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(s)) + s for s in sequences])
        attention = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in sequences])
        return input_ids.to(self.spec.device), attention.to(self.spec.device)

    def _choice_sequences(self, choices: Sequence[str]) -> list[list[int]]:
        return [list(self.tokenizer.encode(c, add_special_tokens=False)) for c in choices]

    def close(self) -> None:
        self.hf_model = None


class ChoiceConstraint:
    """A logits processor that lets a row write only one of the choices' token sequences, then end of sequence."""

    def __init__(self, sequences: list[list[int]], eos_token_id: int):
        self.sequences = sequences
        self.eos = eos_token_id
        self.prompt_width: int | None = None

    def __call__(self, input_ids, scores):
        import torch

        if self.prompt_width is None:
            self.prompt_width = input_ids.shape[1]
        written = input_ids[:, self.prompt_width :].tolist()
        mask = torch.full_like(scores, float("-inf"))
        for row, prefix in enumerate(written):
            if self.eos in prefix:
                mask[row, self.eos] = 0  # finished rows are padded by generate; keep them valid
                continue
            allowed = {s[len(prefix)] for s in self.sequences if s[: len(prefix)] == prefix and len(s) > len(prefix)}
            if any(s == prefix for s in self.sequences):
                allowed.add(self.eos)
            for token in allowed or {self.eos}:
                mask[row, token] = 0
        return scores + mask
