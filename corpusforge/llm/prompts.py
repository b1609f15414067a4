"""Chat messages: what every request's prompt is made of, whoever rendered it (a label strategy, an LLM step).

A prompt is a tuple of messages, so it is hashable and keys the request cache as it is; backends render it with
the tokenizer's chat template or join it as plain text (backends/base.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


Prompt = tuple[Message, ...]


def user(content: str) -> Prompt:
    return (Message("user", content),)


def continue_conversation(prompt: Prompt, reply: str, next_user: str) -> Prompt:
    """The conversation so far, the model's reply, and the next user turn (multi-step strategies)."""
    return (*prompt, Message("assistant", reply), Message("user", next_user))
