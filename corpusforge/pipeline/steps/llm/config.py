"""Settings of LLM steps: the recipe's `llm:` section (defaults for every LLM step) and each step's own overrides.

The model, backend and sampling sections are the labeler's (corpusforge/llm/config.py): the same `vllm` /
`openai` / `transformers` backends with the same fields, so GPU settings (tensor_parallel_size,
gpu_memory_utilization, max_num_seqs via engine_args) are recipe settings, never code paths:

    llm:
      model: {name: /models/qwen2.5-7b-instruct, backend: {type: vllm, tensor_parallel_size: 2}}
      sampling: {temperature: 0.7, top_p: 0.9}
    # or any OpenAI-compatible server:
    #   model: {name: served-name, backend: {type: openai, base_url: http://host:8000/v1, concurrency: 64}}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from corpusforge.config import StrictModel
from corpusforge.llm.config import ModelSpec, SamplingSpec


class LLMModelSpec(ModelSpec):
    """The labeler's model section, except that `name` may stay empty in a recipe and come from
    `--set llm.model.name=PATH` (checked when a step needs it)."""

    name: str | None = Field(None, description="local path or Hub name (vllm/transformers); served name (openai)")


class LLMSampling(SamplingSpec):
    """The shared sampling settings and one token budget for the step's answers."""

    max_tokens: int | None = Field(None, ge=1, description="none: the step's own default")


class LLMDefaults(StrictModel):
    """The recipe's `llm:` section: what every LLM step uses unless it sets its own."""

    model: LLMModelSpec = Field(default_factory=LLMModelSpec)
    sampling: LLMSampling = Field(default_factory=LLMSampling)
    chat: bool = Field(True, description="wrap prompts in the tokenizer's chat template (instruction-tuned models)")
    cache: str | None = Field(None, description="sqlite request cache; default OUTPUT/.corpusforge/llm_cache.sqlite")
    batch_size: int = Field(256, ge=1, description="documents per batch sent to the backend")
    max_retries: int = Field(2, ge=0, description="retries of an answer that fails its check, then the fallback")
    retry_temperature: float = Field(0.7, ge=0)


class LLMStepParams(StrictModel):
    """What every LLM step accepts on top of its own parameters (each overrides the recipe's `llm:` section)."""

    model: LLMModelSpec | None = None
    sampling: LLMSampling | None = None
    chat: bool | None = None
    batch_size: int | None = Field(None, ge=1)
    max_retries: int | None = Field(None, ge=0)
    retry_temperature: float | None = Field(None, ge=0)
    language: Literal["auto", "en", "zh"] = "auto"
    templates: str | None = Field(
        None, description="a folder of jinja files named like the built-in ones; found files replace them"
    )

    def check_in_recipe(self, recipe: Any, steps: list[Any], index: int, where: str) -> list[str]:
        """Problems only the whole recipe shows: here, an LLM step with no model anywhere."""
        defaults = getattr(recipe, "llm", None)
        if not self.resolved(defaults).model.name:  # one message for all steps (the recipe merges equal ones)
            return [
                "llm.model.name: not set, and the recipe's LLM steps need a model: give it on the command line "
                "(--set llm.model.name=/models/my-instruct-model) or in the recipe (llm.model.name, or a step's "
                "own model.name)"
            ]
        return []

    def resolved(self, defaults: LLMDefaults | None) -> LLMDefaults:
        """The recipe defaults with this step's own settings on top."""
        base = (defaults or LLMDefaults()).model_copy(deep=True)
        if self.model is not None:
            base.model = LLMModelSpec(
                name=self.model.name or base.model.name,
                backend=self.model.backend if "backend" in self.model.model_fields_set else base.model.backend,
            )
        if self.sampling is not None:
            base.sampling = base.sampling.model_copy(update=self.sampling.model_dump(exclude_unset=True))
        for name in ("chat", "batch_size", "max_retries", "retry_temperature"):
            if getattr(self, name) is not None:
                setattr(base, name, getattr(self, name))
        return base
