"""Backends behind one interface (base.Backend); each module imports its heavy library only inside load()."""

from __future__ import annotations

from typing import Any

from corpusforge.llm.backends.base import Backend

BACKEND_TYPES = ("vllm", "openai", "transformers")


def backend_for(spec: Any, model: str, chat: bool, llm: Any = None) -> Backend:
    """The backend a spec names (labelling and build steps alike), not yet loaded; `llm`: a started vllm.LLM."""
    if spec.type == "vllm":
        from corpusforge.llm.backends.vllm import VLLMBackend

        return VLLMBackend(spec, model, chat, llm=llm)
    if spec.type == "openai":
        from corpusforge.llm.backends.openai import OpenAIBackend

        return OpenAIBackend(spec, model, chat)
    from corpusforge.llm.backends.transformers import TransformersBackend

    return TransformersBackend(spec, model, chat)
