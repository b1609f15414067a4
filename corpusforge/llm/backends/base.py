"""The one small interface every backend implements, and the prompt/token helpers they share.

A backend knows how to load a model, answer a batch of requests and report each result as soon as it finishes
(`on_result(index, result)`), nothing else: it never sees items, strategies or templates. Heavy imports happen in
load(), so importing corpusforge never imports vllm or torch.

Prompts reach every local backend as the same token ids: a chat prompt is rendered with the tokenizer's chat
template and encoded without adding special tokens again (the template already has them); a plain prompt is the
messages' text joined by blank lines, encoded with the tokenizer's own special tokens.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from corpusforge.errors import ConfigError
from corpusforge.llm.prompts import Prompt
from corpusforge.llm.requests import Request, Result

OnResult = Callable[[int, Result], None]
PROMPT_TOO_LONG = "prompt_too_long"
BACKEND_ERROR = "backend_error"


class Backend(ABC):
    """Load, then answer batches of GenerateRequest / ScoreRequest; results are reported one by one."""

    name: str = ""
    #: whether `choices` on a GenerateRequest is enforced (otherwise it is a hint and answers are parsed)
    constrains_choices: bool = True
    #: whether `json_schema` / `regex` are enforced while decoding (otherwise answers are only parsed and checked)
    constrains_structure: bool = True

    def __init__(self, spec: Any, model: str, chat: bool):
        self.spec = spec
        self.model = model
        self.chat = chat

    @abstractmethod
    def load(self) -> None: ...

    @abstractmethod
    def run(self, requests: Sequence[Request], on_result: OnResult) -> None:
        """Answer every request; call on_result(i, result) for each as it finishes (in any order)."""

    def close(self) -> None:  # noqa: B027 - optional hook: most backends have nothing to release
        """Release the model / engine / connections."""

    def describe(self) -> dict[str, Any]:
        """Settings worth recording next to the labels."""
        return {"backend": self.name, **self.spec.model_dump(mode="json")}


def structured_constraint(request: Request) -> dict[str, Any] | None:
    """The request's output constraint in vLLM's `structured_outputs` form (offline params and server field alike)."""
    if getattr(request, "choices", None):
        return {"choice": list(request.choices)}
    if getattr(request, "json_schema", None):
        return {"json": json.loads(request.json_schema)}
    if getattr(request, "regex", None):
        return {"regex": request.regex}
    return None


def plain_text(prompt: Prompt) -> str:
    return "\n\n".join(m.content for m in prompt)


def render_prompt(tokenizer: Any, prompt: Prompt, chat: bool) -> str:
    """The prompt as the model sees it: chat template with the generation prompt, or plain text."""
    if not chat:
        return plain_text(prompt)
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            "task.chat: the model's tokenizer has no chat template; set task.chat=false for a base model"
        )
    return tokenizer.apply_chat_template([m.to_dict() for m in prompt], tokenize=False, add_generation_prompt=True)


def encode_prompt(tokenizer: Any, prompt: Prompt, chat: bool) -> list[int]:
    text = render_prompt(tokenizer, prompt, chat)
    return list(tokenizer.encode(text, add_special_tokens=not chat))


def encode_continuation(tokenizer: Any, prompt: Prompt, chat: bool, continuation: str) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) the lm-evaluation-harness way.

    The whole text is encoded once and split after the context's own encoding, so a token that the tokenizer
    would merge across the boundary is not split artificially; trailing spaces of the context move to the
    continuation.
    """
    context = render_prompt(tokenizer, prompt, chat)
    stripped = context.rstrip(" ")
    continuation = context[len(stripped) :] + continuation
    context_ids = list(tokenizer.encode(stripped, add_special_tokens=not chat))
    whole = list(tokenizer.encode(stripped + continuation, add_special_tokens=not chat))
    if whole[: len(context_ids)] != context_ids:  # the tokenizer merged across the boundary: keep them apart
        return context_ids, context_ids + list(tokenizer.encode(continuation, add_special_tokens=False))
    return context_ids, whole


def choice_token_ids(tokenizer: Any, choices: Sequence[str]) -> list[int]:
    """The token each choice starts with; they must differ, or first-token probabilities cannot tell them apart."""
    ids = []
    for choice in choices:
        encoded = tokenizer.encode(choice, add_special_tokens=False)
        if not encoded:
            raise ConfigError(f"task.options: {choice!r} encodes to no token")
        ids.append(encoded[0])
    if len(set(ids)) != len(ids):
        raise ConfigError(
            f"task.options: the answers {list(choices)} start with the same token for this tokenizer; "
            "use distinct option keys (A, B, C)"
        )
    return ids
