"""llm.score: an LLM's 0..N educational score in the document's metadata, with a threshold filter."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Literal

from datatrove.data import Document
from pydantic import Field

from corpusforge.pipeline.registry import StepParams, register
from corpusforge.pipeline.steps.llm.base import LLMStep, Task, note_outcome
from corpusforge.pipeline.steps.llm.checks import parse_json_with_schema, schema_validator, score_schema
from corpusforge.pipeline.steps.llm.config import LLMStepParams


@register("llm.score")
class LLMScore(LLMStep):
    """An LLM's 0..N educational score in the document's metadata; documents under `threshold` are dropped."""

    default_max_tokens = 16
    template_names = ("score",)

    class Params(StepParams, LLMStepParams):
        key: str = Field("llm_score", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="metadata key of the score")
        scale_max: int = Field(5, ge=1, le=100)
        threshold: float | None = Field(None, ge=0, description="drop documents scoring below it")
        max_chars: int = Field(6000, ge=100, description="text shown to the model is cut here")
        on_failure: Literal["keep", "drop"] = "keep"

    @cached_property
    def _validate(self):
        return schema_validator(score_schema(self.params.scale_max))

    def uses_structure(self) -> bool:
        return True

    def prepare(self, doc: Document) -> Task | str:
        language = self.language_of(doc.text)
        text = doc.text[: self.params.max_chars]
        file, prompt = self.render("score", language, text=text, scale_max=self.params.scale_max)
        schema = json.dumps(score_schema(self.params.scale_max), sort_keys=True)
        validate = self._validate
        return Task(doc, file, prompt, lambda answer: parse_json_with_schema(answer, validate), language,
                    json_schema=schema)  # fmt: skip

    def accept(self, task: Task) -> list[Document]:
        score = task.value["score"]
        task.doc.metadata[self.params.key] = score
        self.count(f"score_{score}")
        if self.params.threshold is not None and score < self.params.threshold:
            return self.drop(f"{self.params.key}_below_threshold")
        return [task.doc]

    def fallback(self, task: Task) -> list[Document]:
        if self.params.on_failure == "drop":
            return self.drop(f"{self.params.key}_{task.reasons[-1]}")
        task.doc.metadata[self.params.key] = None
        note_outcome(task.doc, self.name, task.reasons[-1])
        self.count(f"unscored_{task.reasons[-1]}")
        return [task.doc]
