"""The job's backend, started only when a request the label cache cannot answer reaches it (in this process or
in one task of a split job)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from corpusforge.errors import ConfigError
from corpusforge.label.config import LabelJob
from corpusforge.llm.backends import backend_for
from corpusforge.llm.backends.base import Backend
from corpusforge.sources_check import model_problems


def make_backend(job: LabelJob) -> Backend:
    """The backend a job names, not yet loaded."""
    return backend_for(job.model.backend, job.model.name, job.task.chat)


class OnDemandBackend(Backend):
    """The job's backend, loaded when the first request the cache cannot answer reaches it.

    So a rerun answered wholly from the label cache never starts the engine (a vLLM start is 20-90 s and GBs of
    memory), and a run killed during the load has already written its quarantine and marked its folder.
    """

    def __init__(self, inner: Backend, log: Callable[[str], None], loaded: bool = False):
        super().__init__(inner.spec, inner.model, inner.chat)
        self.inner = inner
        self.name = inner.name
        self.constrains_choices = inner.constrains_choices
        self.loaded = loaded
        self.started = False  # whether this run loaded it
        self.load_seconds = 0.0
        self._log = log

    def load(self) -> None:
        if self.loaded:
            return
        if self.name != "openai":  # a typo in the model path is one line, not a traceback after the imports
            problems = model_problems("model.name", self.model, "config.json")
            if problems:
                raise ConfigError("\n".join(problems))
        self._log(f"loading {self.model} with {self.name}")
        started = time.perf_counter()
        self.inner.load()
        self.load_seconds = time.perf_counter() - started
        self.loaded = self.started = True

    def run(self, requests, on_result) -> None:
        self.load()
        self.inner.run(requests, on_result)

    def close(self) -> None:
        if self.started:
            self.inner.close()

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()
