"""Any OpenAI-compatible HTTP server (vLLM's own server, or another), with concurrency, retries and timeouts.

Chat prompts go to /chat/completions (the server applies the model's chat template), plain prompts to
/completions. The answer constraint is sent as `structured_outputs: {choice: [...]}` (vLLM's current field; the
older `guided_choice` is silently ignored by recent servers, which is why answers are still parsed and retried).
Option probabilities come from the first token's `top_logprobs`. PPL scoring sends token ids to /completions with
`echo: true` and reads the prompt tokens' log-probabilities, so it needs the model's tokenizer locally.

Standard library only (urllib + threads): requests run `concurrency` at a time and each is reported as it finishes.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from corpusforge.errors import InputError
from corpusforge.llm.backends.base import (
    BACKEND_ERROR,
    Backend,
    OnResult,
    encode_continuation,
    plain_text,
    structured_constraint,
)
from corpusforge.llm.config import OpenAIBackendSpec
from corpusforge.llm.requests import GenerateRequest, GenerateResult, Request, Result, ScoreRequest, ScoreResult

log = logging.getLogger(__name__)
RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class RequestFailed(Exception):
    """A request that failed for good (a non-retryable status, or retries exhausted)."""


class OpenAIBackend(Backend):
    name = "openai"
    constrains_choices = True  # asked for; a server may ignore it, so answers are parsed and retried regardless

    def __init__(self, spec: OpenAIBackendSpec, model: str, chat: bool):
        super().__init__(spec, model, chat)
        self.base_url = spec.base_url.rstrip("/")
        self._tokenizer = None
        self.calls = 0  # HTTP requests sent (including retries)

    def load(self) -> None:
        """Nothing to load; the server must answer /models (fails early with a clear message otherwise)."""
        try:
            self._http("GET", "/models", None, retries=1)
        except RequestFailed as e:
            raise InputError(f"model.backend.base_url {self.base_url}: the server does not answer ({e})") from None

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.spec.tokenizer or self.model)
        return self._tokenizer

    def run(self, requests: Sequence[Request], on_result: OnResult) -> None:
        if any(isinstance(r, ScoreRequest) for r in requests):
            _ = self.tokenizer  # load it here: importing transformers from several threads at once is not safe
        with ThreadPoolExecutor(max_workers=self.spec.concurrency) as pool:
            futures = {pool.submit(self._answer, request): i for i, request in enumerate(requests)}
            for future in as_completed(futures):
                on_result(futures[future], future.result())

    def _answer(self, request: Request) -> Result:
        started = time.perf_counter()
        try:
            if isinstance(request, ScoreRequest):
                result: Result = self._score(request)
            else:
                result = self._generate(request)
        except RequestFailed as e:
            log.warning("request failed: %s", e)
            if isinstance(request, ScoreRequest):
                return ScoreResult(error=BACKEND_ERROR, seconds=time.perf_counter() - started)
            return GenerateResult(text=str(e), error=BACKEND_ERROR, seconds=time.perf_counter() - started)
        result.seconds = time.perf_counter() - started
        return result

    def _generate(self, request: GenerateRequest) -> GenerateResult:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
        }
        constraint = structured_constraint(request)
        if constraint and self.spec.constraint_field == "structured_outputs":
            body["structured_outputs"] = constraint
        wants_logprobs = bool(request.score_choices) and self.spec.top_logprobs > 0
        if self.chat:
            body["messages"] = [m.to_dict() for m in request.prompt]
            if wants_logprobs:
                body.update(logprobs=True, top_logprobs=self.spec.top_logprobs)
            data = self._http("POST", "/chat/completions", body)
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            first = _chat_first_top_logprobs(choice)
        else:
            body["prompt"] = plain_text(request.prompt)
            if wants_logprobs:
                body["logprobs"] = self.spec.top_logprobs
            data = self._http("POST", "/completions", body)
            choice = data["choices"][0]
            text = choice.get("text") or ""
            first = _completion_first_top_logprobs(choice)
        usage = data.get("usage") or {}
        return GenerateResult(
            text=text,
            finish_reason=choice.get("finish_reason"),
            choice_logprobs=_choice_logprobs(first, request.score_choices) if wants_logprobs else None,
            prompt_tokens=usage.get("prompt_tokens") or 0,
            cached_prompt_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0,
            completion_tokens=usage.get("completion_tokens") or 0,
        )

    def _score(self, request: ScoreRequest) -> ScoreResult:
        logprobs, counts, prompt_tokens = [], [], 0
        for continuation in request.continuations:
            context, whole = encode_continuation(self.tokenizer, request.prompt, self.chat, continuation)
            body = {
                "model": self.model,
                "prompt": whole,
                "max_tokens": 1,
                "temperature": 0.0,
                "echo": True,
                "logprobs": 1,
            }
            data = self._http("POST", "/completions", body)
            token_logprobs = data["choices"][0]["logprobs"]["token_logprobs"][: len(whole)]
            n = len(whole) - len(context)
            logprobs.append(float(sum(token_logprobs[len(whole) - n :])))
            counts.append(n)
            prompt_tokens += len(whole)
        return ScoreResult(logprobs=logprobs, token_counts=counts, prompt_tokens=prompt_tokens)

    def _http(self, method: str, path: str, body: dict | None, retries: int | None = None) -> dict:
        """One call with retries (exponential backoff with jitter) on timeouts, connection errors, 429 and 5xx."""
        retries = self.spec.max_retries if retries is None else retries
        headers = {"Content-Type": "application/json"}
        if api_key := os.environ.get(self.spec.api_key_env):
            headers["Authorization"] = f"Bearer {api_key}"
        payload = json.dumps(body).encode() if body is not None else None
        last = ""
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(self.spec.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
            self.calls += 1
            req = urllib.request.Request(self.base_url + path, data=payload, headers=headers, method=method)
            try:
                with urllib.request.urlopen(req, timeout=self.spec.timeout_s) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as e:
                detail = e.read().decode("utf-8", "replace")[:500]
                last = f"HTTP {e.code} from {path}: {detail}"
                if e.code not in RETRYABLE_STATUS:
                    raise RequestFailed(last) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError) as e:
                last = f"{type(e).__name__} from {path}: {e}"
        raise RequestFailed(f"{last} (after {retries + 1} tries)")


def _chat_first_top_logprobs(choice: dict) -> dict[str, float]:
    content = (choice.get("logprobs") or {}).get("content") or []
    if not content:
        return {}
    return {t["token"]: t["logprob"] for t in content[0].get("top_logprobs") or []}


def _completion_first_top_logprobs(choice: dict) -> dict[str, float]:
    tops = (choice.get("logprobs") or {}).get("top_logprobs") or []
    return dict(tops[0]) if tops and tops[0] else {}


def _choice_logprobs(first: dict[str, float], choices: Sequence[str] | None) -> dict[str, float] | None:
    """Match the first token's top log-probabilities to the choices (token text without surrounding spaces)."""
    if not first or not choices:
        return None
    found = {c: float("-inf") for c in choices}
    for token, logprob in first.items():
        stripped = token.strip()
        if stripped in found and logprob is not None:
            found[stripped] = max(found[stripped], float(logprob))
    return found if any(v != float("-inf") for v in found.values()) else None
