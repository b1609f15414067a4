"""The one shape every multiple-choice source is parsed into (`MCQuestion`), and the errors of a row that cannot be.

A row that cannot be used raises `MalformedQuestion` (a ValueError) whose `field` is the offending field of the
source layout, so callers can quarantine it with a message naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

KEYS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class MalformedQuestion(ValueError):
    """A multiple-choice row that cannot be used; `field` names the field of the source layout at fault."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"field {field_name!r}: {message}")
        self.field = field_name


class MissingField(MalformedQuestion):
    """A required field is absent or empty (readers count it as `missing_field`, not as a bad value)."""


class MultiAnswerQuestion(MalformedQuestion):
    """The answer names several options (CMExam has ~3% of these, e.g. "ABD").

    Policy: `MCQuestion` holds one answer key, so these are not parsed. They are well-formed source data, not
    garbage, so readers count them as dropped (`multi_answer`) rather than quarantining them; `answers` keeps the keys.
    """

    def __init__(self, field_name: str, answers: list[str]):
        super().__init__(field_name, f"several answers {''.join(answers)!r}; one answer key is supported")
        self.answers = answers


@dataclass
class MCQuestion:
    """One multiple-choice question: options are (key, text) pairs with keys "A", "B", ...; `answer` is a key."""

    question: str
    options: list[tuple[str, str]]
    answer: str
    explanation: str | None = None
    context: str | None = None
    id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.question, str) or not self.question.strip():
            raise MalformedQuestion("question", "empty question")
        if len(self.options) < 2:
            raise MalformedQuestion("options", f"need at least 2 options, got {len(self.options)}")
        keys = [k for k, _ in self.options]
        if len(set(keys)) != len(keys) or not all(len(k) == 1 and k in KEYS for k in keys):
            raise MalformedQuestion("options", f"option keys must be distinct letters A-Z, got {keys}")
        if self.answer not in keys:
            raise MalformedQuestion("answer", f"answer {self.answer!r} is not one of the option keys {keys}")

    @property
    def answer_text(self) -> str:
        return self.option_text(self.answer)

    def option_text(self, key: str) -> str:
        return dict(self.options)[key]

    def to_record(self) -> dict[str, Any]:
        """The `mc` object of the instruction record schema (schemas/instruction.schema.json)."""
        return {
            "question": self.question,
            "context": self.context,
            "options": [{"key": k, "text": t} for k, t in self.options],
            "answer": self.answer,
            "explanation": self.explanation,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any], id: str | None = None, meta: dict | None = None) -> MCQuestion:
        """Inverse of `to_record` (for steps that receive the parsed fields in document metadata)."""
        options = [(o["key"], o["text"]) for o in record.get("options") or []]
        return cls(
            question=record.get("question") or "",
            options=options,
            answer=record.get("answer") or "",
            explanation=record.get("explanation"),
            context=record.get("context"),
            id=id,
            meta=dict(meta or {}),
        )

    def flat_text(self, include_answer: bool = False) -> str:
        """Context, question and one option per line (and the answer): the text used for dedup and overlap checks."""
        parts = [self.context] if self.context else []
        parts.append(self.question)
        parts.extend(f"{k}. {t}" for k, t in self.options)
        if include_answer:
            parts.append(f"Answer: {self.answer}. {self.answer_text}")
        return "\n".join(parts)


def render_options(options: Sequence[tuple[str, str]], style: str = "{key}) {text}", sep: str = " ") -> str:
    """`[("A", "yes"), ("B", "no")]` -> "A) yes B) no" (the paper's Table 9 layout by default)."""
    return sep.join(style.format(key=k, text=t) for k, t in options)
