"""Backends behind one interface (base.Backend); each module imports its heavy library only inside load()."""

from __future__ import annotations

from typing import Any

from corpusforge.label.backends.base import Backend
from corpusforge.label.config import LabelJob

BACKEND_TYPES = ("vllm", "openai", "transformers")


def make_backend(job: LabelJob) -> Backend:
    """The backend a job names, not yet loaded."""
    return backend_for(job.model.backend, job.model.name, job.task.chat)


def backend_for(spec: Any, model: str, chat: bool, llm: Any = None) -> Backend:
    """The backend a spec names (labelling and build steps alike), not yet loaded; `llm`: a started vllm.LLM."""
    if spec.type == "vllm":
        from corpusforge.label.backends.vllm import VLLMBackend

        return VLLMBackend(spec, model, chat, llm=llm)
    if spec.type == "openai":
        from corpusforge.label.backends.openai import OpenAIBackend

        return OpenAIBackend(spec, model, chat)
    from corpusforge.label.backends.transformers import TransformersBackend

    return TransformersBackend(spec, model, chat)
