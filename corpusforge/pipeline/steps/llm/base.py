"""What every LLM step shares: batching, the engine, checks, retries, fallbacks, counts and the step's report.

A step subclasses LLMStep and says only how a document becomes a request (`prepare`), what a checked answer makes
(`accept`) and what a failed one leaves (`fallback`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from pathlib import Path
from typing import Any, ClassVar

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from corpusforge.errors import ConfigError
from corpusforge.llm.backends import structured
from corpusforge.llm.engine import EngineCounters, release, shared_engine
from corpusforge.llm.prompts import Message
from corpusforge.llm.requests import GenerateRequest
from corpusforge.pipeline.registry import BuildContext
from corpusforge.pipeline.steps.llm.checks import Checked, common_failures
from corpusforge.pipeline.steps.llm.config import LLMDefaults
from corpusforge.pipeline.steps.llm.reports import ACCEPTED, FELL_BACK, REPORT_DIR, SAMPLE_CHARS, SAMPLES_PER_REASON

BUILTIN_TEMPLATES = Path(__file__).resolve().parents[3] / "templates" / "llm"
DEFAULT_CACHE = "llm_cache.sqlite"  # under OUTPUT/.corpusforge
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def detect_language(text: str) -> str:
    """zh when CJK characters make up a fifth or more of the letters, else en."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"
    return "zh" if sum(1 for c in letters if _CJK.match(c)) / len(letters) >= 0.2 else "en"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class PromptTemplates:
    """jinja templates by name and language (`<name>.<lang>.jinja`), a recipe folder first, then the built-in ones."""

    def __init__(self, override_dir: str | None = None):
        self.override_dir = override_dir

    @cached_property
    def env(self):
        from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

        loaders = [FileSystemLoader(self.override_dir)] if self.override_dir else []
        loaders.append(FileSystemLoader(str(BUILTIN_TEMPLATES)))
        return Environment(loader=ChoiceLoader(loaders), undefined=StrictUndefined, autoescape=False)

    def __getstate__(self) -> dict[str, Any]:
        return {"override_dir": self.override_dir}  # the jinja environment is rebuilt where the step runs

    def source(self, name: str) -> str:
        return self.env.loader.get_source(self.env, name)[0]

    def render(self, name: str, **variables: Any) -> str:
        return self.env.get_template(name).render(**variables).strip()

    def hashes(self, names: list[str]) -> dict[str, str]:
        return {name: text_hash(self.source(name)) for name in names}

    def check(self, names: list[str], where: str) -> None:
        """Fail before any I/O when a template is missing or does not parse."""
        from jinja2 import TemplateError

        for name in names:
            try:
                self.env.parse(self.source(name))
            except TemplateError as e:
                raise ConfigError(f"{where}.templates: {name}: {e}") from None


@dataclass
class Task:
    """One document's request in flight: its prompt, constraint and check, and what came of it."""

    doc: Document
    template: str  # file name (built-in steps) or "inline" (llm.generate)
    prompt: str
    check: Callable[[str], Checked]
    language: str = "en"
    json_schema: str | None = None
    regex: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    value: Any = None
    done: bool = False


class LLMStep(PipelineStep):
    """Shared machinery of the LLM steps: batching, engine, checks, retries, fallbacks, counts and the report."""

    type = "🤖 - LLM"
    default_max_tokens: ClassVar[int] = 256
    template_names: ClassVar[tuple[str, ...]] = ()  # built-in templates, without the `.<lang>.jinja` suffix

    @classmethod
    def from_params(cls, params: Any, ctx: BuildContext) -> LLMStep:
        settings = params.resolved(ctx.llm)
        if not settings.model.name:  # the recipe's validation says so first; this guards direct use
            raise ConfigError(f"{params.type}: no model; set llm.model.name (e.g. --set llm.model.name=/models/x)")
        state = ctx.output_dir / ".corpusforge"
        cache = Path(settings.cache) if settings.cache else state / DEFAULT_CACHE
        return cls(params, settings, cache_path=str(cache), report_dir=str(state / REPORT_DIR), source=ctx.source,
                   task_ids=ctx.extra.get("task_ids") or None)  # fmt: skip

    def __init__(
        self,
        params: Any,
        settings: LLMDefaults,
        cache_path: str,
        report_dir: str | None = None,
        source: str = "",
        task_ids: dict[str, int] | None = None,
    ):
        super().__init__()
        self.params = params
        self.settings = settings
        self.cache_path = cache_path
        self.report_dir = report_dir
        self.source = source
        self.task_ids = task_ids
        self.templates = PromptTemplates(params.templates)
        self.templates.check(self.template_files(), params.type)
        if self.uses_structure() and settings.model.backend.type == "transformers":
            structured.require(f"{params.type}: model.backend.type=transformers")  # before any I/O
        self.max_tokens = settings.sampling.max_tokens or self.default_max_tokens
        self.outcomes: Counter = Counter()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for pipeline workers without what is rebuilt on demand (jinja objects, validators, engine)."""
        state = dict(self.__dict__)
        for key in ("_template", "_validate", "writer", "counters", "outcomes", "samples"):
            state.pop(key, None)
        return state

    def template_files(self) -> list[str]:
        return [f"{name}.{lang}.jinja" for name in self.template_names for lang in ("en", "zh")]

    def template_hashes(self) -> dict[str, str]:
        return self.templates.hashes(self.template_files())

    # ---- what each step defines --------------------------------------------------------------------------------
    def uses_structure(self) -> bool:
        """Whether requests carry a JSON Schema or regex that the backend must enforce while decoding."""
        return False

    def prepare(self, doc: Document) -> Task | str:
        """The task for `doc`, or the reason it passes through unchanged."""
        raise NotImplementedError

    def accept(self, task: Task) -> list[Document]:
        """The documents a checked answer makes (the document itself, rewritten, for most steps)."""
        raise NotImplementedError

    def fallback(self, task: Task) -> list[Document]:
        """What happens after the last failed retry: a fallback document, or none (dropped)."""
        raise NotImplementedError

    def language_of(self, text: str) -> str:
        return self.params.language if self.params.language != "auto" else detect_language(text)

    def render(self, name: str, language: str, **variables: Any) -> tuple[str, str]:
        file = f"{name}.{language}.jinja"
        return file, self.templates.render(file, **variables)

    # ---- the machinery -------------------------------------------------------------------------------------------
    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data is None:
            return
        spec = self.settings.model.model_copy(update={"backend": vllm_defaults(self.settings.model.backend)})
        engine = shared_engine(
            spec.backend, spec.name, self.settings.chat, self.cache_path, f"build step {self.name}"
        )
        self.counters = EngineCounters()
        self.outcomes = Counter()
        self.samples: dict[str, list[str]] = {}
        try:
            iterator = iter(data)
            while batch := list(islice(iterator, self.settings.batch_size)):
                with self.track_time(unit="batch"):
                    out = self.process(batch, engine)
                for doc in out:
                    self.update_doc_stats(doc)
                    yield doc
        finally:
            self.finish(rank, engine)
            release(engine)

    def process(self, batch: list[Document], engine) -> list[Document]:
        tasks: list[Task | str] = [self.prepare(doc) for doc in batch]
        pending = [t for t in tasks if isinstance(t, Task)]
        for attempt in range(self.settings.max_retries + 1):
            if not pending:
                break
            results = engine.answer([self.request(t, attempt) for t in pending], self.counters)
            still = []
            for task, result in zip(pending, results):
                reason = common_failures(result.text, result.finish_reason, result.error)
                verdict = Checked(reason=reason) if reason else task.check(result.text)
                if verdict.ok:
                    task.value, task.done = verdict.value, True
                    self.outcomes[f"answered_on_try_{attempt + 1}"] += 1
                    self.keep_sample(ACCEPTED, result.text)
                else:
                    task.reasons.append(verdict.reason)
                    self.outcomes[f"failed_{verdict.reason}"] += 1
                    self.keep_sample(verdict.reason, result.text)
                    still.append(task)
            pending = still
        out: list[Document] = []
        for doc, task in zip(batch, tasks):
            if isinstance(task, str):
                self.count(f"unchanged_{task}")
                out.append(doc)
            elif task.done:
                self.outcomes[ACCEPTED] += 1
                out += self.accept(task)
            else:
                self.outcomes[FELL_BACK] += 1
                out += self.fallback(task)
        return out

    def request(self, task: Task, attempt: int):
        sampling = self.settings.sampling
        system = getattr(self.params, "system", None)
        prompt = ((Message("system", system),) if system else ()) + (Message("user", task.prompt),)
        return GenerateRequest(
            prompt=prompt,
            max_tokens=self.max_tokens,
            temperature=sampling.temperature if attempt == 0 else self.settings.retry_temperature,
            top_p=sampling.top_p,
            seed=sampling.seed + attempt,
            template_hash=self.template_hash(task),
            json_schema=task.json_schema,
            regex=task.regex,
        )

    def keep_sample(self, key: str, text: str) -> None:
        """The first answers accepted and failed per reason, for the report: what the checks saw, in the model's words."""
        kept = self.samples.setdefault(key, [])
        if len(kept) < SAMPLES_PER_REASON:
            kept.append(text[:SAMPLE_CHARS])

    def template_hash(self, task: Task) -> str:
        return text_hash(self.templates.source(task.template))

    def count(self, key: str, value: int = 1) -> None:
        self.stat_update(key, value=value)
        self.outcomes[key] += value

    def drop(self, reason: str) -> list[Document]:
        self.stat_update("dropped")
        self.count(f"dropped_{reason}")
        return []

    def finish(self, rank: int, engine) -> None:
        """Counters into the step's stats, and the step's report (model, templates, counts) for the card."""
        c = self.counters
        for key, value in (
            ("llm_requests", c.requests),
            ("llm_cache_hits", c.cache_hits),
            ("llm_requests_sent", c.sent),
            ("llm_prompt_tokens", c.prompt_tokens),
            ("llm_completion_tokens", c.completion_tokens),
            *((f"llm_error_{k}", v) for k, v in c.errors.items()),
        ):
            if value:
                self.stat_update(key, value=value)
        if not self.report_dir:
            return
        settings_hash = text_hash(json.dumps(self.params.model_dump(mode="json"), sort_keys=True))
        folder = Path(self.report_dir) / (self.source or "_") / f"{self.name}-{settings_hash[:8]}"
        folder.mkdir(parents=True, exist_ok=True)
        report = {
            "source": self.source,
            "step": self.name,
            **engine.describe(),
            "sampling": {**self.settings.sampling.model_dump(mode="json"), "max_tokens": self.max_tokens},
            "retries": {"max_retries": self.settings.max_retries, "temperature": self.settings.retry_temperature},
            "templates": self.template_hashes(),
            "counters": c.to_dict(),
            "outcomes": dict(sorted(self.outcomes.items())),
            "samples": dict(sorted(self.samples.items())),
        }
        tmp = folder / f"{rank:05d}.json.tmp"
        tmp.write_text(json.dumps(report, indent=1, ensure_ascii=False))
        tmp.replace(folder / f"{rank:05d}.json")


# JSON under a schema without free whitespace: xgrammar otherwise lets a model pad JSON with whitespace until
# max_tokens (small models do). vLLM takes this per engine, not per request; a recipe's engine_args win.
VLLM_STEP_ENGINE_ARGS = {"structured_outputs_config": {"backend": "xgrammar", "disable_any_whitespace": True}}


def vllm_defaults(backend: Any) -> Any:
    """The backend spec with the engine arguments LLM steps want by default (vLLM only)."""
    if backend.type != "vllm":
        return backend
    return backend.model_copy(update={"engine_args": {**VLLM_STEP_ENGINE_ARGS, **backend.engine_args}})


def add_transform(doc: Document, step: str) -> None:
    doc.metadata["transforms"] = list(doc.metadata.get("transforms") or []) + [step]


def note_outcome(doc: Document, step: str, fallback: str | None) -> None:
    """Record on the document what the step did: the transform when the model's text is used, else the reason."""
    if fallback is None:
        add_transform(doc, step)
    else:
        doc.metadata.setdefault("llm_fallback", {})[step] = fallback
