"""What a strategy asks a backend for, and what comes back.

Two kinds of request cover every strategy:
- GenerateRequest: continue a prompt, optionally constrained to one of `choices`, and report the log-probability
  of each of `score_choices` as the first generated token (the option probabilities of an answer step);
- ScoreRequest: the log-likelihood of each continuation after the prompt, no generation (PPL ranking).

Results are plain JSON-able dataclasses so the cache can store them exactly. The cache key hashes everything that
determines an answer: backend, model, the request (prompt, sampling, constraint), the template hash and the chat
flag.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from corpusforge.llm.prompts import Prompt


@dataclass(frozen=True)
class GenerateRequest:
    prompt: Prompt
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    choices: tuple[str, ...] | None = None
    score_choices: tuple[str, ...] | None = None
    template_hash: str = ""
    # structured outputs beyond `choices`: a JSON Schema (JSON text) or a regular expression the answer must match
    json_schema: str | None = None
    regex: str | None = None
    kind: str = field(default="generate", init=False)

    def sampling(self) -> dict[str, Any]:
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class ScoreRequest:
    prompt: Prompt
    continuations: tuple[str, ...]
    template_hash: str = ""
    kind: str = field(default="score", init=False)


Request = GenerateRequest | ScoreRequest
OPTIONAL_CONSTRAINTS = ("json_schema", "regex")


@dataclass
class GenerateResult:
    text: str
    finish_reason: str | None = None
    choice_logprobs: dict[str, float] | None = None  # score_choices -> log-probability as the first token
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0  # served by the engine's prefix cache (computed = prompt - cached)
    completion_tokens: int = 0
    seconds: float = 0.0
    error: str | None = None  # e.g. prompt_too_long, backend_error: the request could not be answered
    kind: str = "generate"


@dataclass
class ScoreResult:
    logprobs: list[float] = field(default_factory=list)  # per continuation: summed log-probability
    token_counts: list[int] = field(default_factory=list)  # per continuation: number of scored tokens
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    seconds: float = 0.0
    error: str | None = None
    kind: str = "score"


Result = GenerateResult | ScoreResult


def result_to_json(result: Result) -> str:
    return json.dumps(asdict(result), ensure_ascii=False)


def result_from_json(text: str) -> Result:
    data = json.loads(text)
    return GenerateResult(**data) if data["kind"] == "generate" else ScoreResult(**data)


def request_payload(request: Request) -> dict[str, Any]:
    """The request as plain data (cache key input and debugging)."""
    data = asdict(request)
    data["prompt"] = [m.to_dict() for m in request.prompt]
    for name in OPTIONAL_CONSTRAINTS:  # absent constraints leave the key of every earlier request unchanged
        if data.get(name) is None:
            data.pop(name, None)
    return data


def cache_key(request: Request, *, backend: str, model: str, chat: bool) -> str:
    """sha256 over backend + model + chat flag + the whole request (prompt, sampling, constraint, template hash).

    Input items with text that cannot be encoded are quarantined before any request is made (label/items.py);
    `surrogatepass` only keeps a key computable should one slip through, with the same bytes for valid text."""
    payload = {"backend": backend, "model": model, "chat": chat, "request": request_payload(request)}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
