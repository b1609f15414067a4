"""Backends behind one interface (base.Backend); each module imports its heavy library only inside load()."""

from __future__ import annotations

from corpusforge.label.backends.base import Backend
from corpusforge.label.config import LabelJob

BACKEND_TYPES = ("vllm", "openai", "transformers")


def make_backend(job: LabelJob) -> Backend:
    """The backend a job names, not yet loaded."""
    spec = job.model.backend
    if spec.type == "vllm":
        from corpusforge.label.backends.vllm import VLLMBackend

        return VLLMBackend(spec, job.model.name, job.task.chat)
    if spec.type == "openai":
        from corpusforge.label.backends.openai import OpenAIBackend

        return OpenAIBackend(spec, job.model.name, job.task.chat)
    from corpusforge.label.backends.transformers import TransformersBackend

    return TransformersBackend(spec, job.model.name, job.task.chat)
