"""LLM steps inside build recipes: rewrite, synthesize and score documents with any backend of the labeler.

    kg.rewrite          a kg.subgraphs paragraph rewritten from its triples (AntGLM-Med 3.3); keeps every entity
    exam.rewrite        an exam question rewritten into knowledge points; states the answer, asks nothing
    llm.qa_from_text    a passage (book chunk, abstract) used as hidden reference for instruction pairs
                        (HuatuoGPT-II's recipe); emits chat records carrying the passage's provenance
    llm.score           a 0..N educational score into the document's metadata, with a threshold filter
    llm.generate        the general form: the recipe's jinja template, an output parser, a target field

Every step is a datatrove PipelineStep. Documents are taken `batch_size` at a time; each batch's prompts go to
the engine (corpusforge/llm/engine.py: the shared backends behind the sqlite request cache) in one call, so vLLM batches
them and a killed build resends only the requests that had not finished. The engine is started once per datatrove
task, on the first request the cache cannot answer, and shared by the LLM steps of that task.

An answer is checked (the step's own check); a failed one is retried at `retry_temperature` with a new seed, up to
`max_retries`, and then the step falls back (the template text, the rule-based knowledge point) or drops the
document, counting the reason: every input document ends rewritten, fallen back, unchanged (not for this step,
counted), or dropped with a reason. Prompts are jinja files under corpusforge/templates/llm/ (English and
Chinese, picked per document); a step's `templates:` folder replaces them by file name. The template's hash is
part of each request's cache key, so editing a prompt never reuses an answer to the old one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from pathlib import Path
from typing import Any, ClassVar, Literal

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from pydantic import Field, field_validator, model_validator

from corpusforge.config import StrictModel
from corpusforge.errors import ConfigError
from corpusforge.pipeline.registry import BuildContext, StepParams, register
from corpusforge.pipeline.steps.llm_checks import (
    QA_SCHEMA,
    Checked,
    answer_core,
    check_exam_rewrite,
    check_kg_rewrite,
    check_qa_pairs,
    clean_text,
    common_failures,
    parse_json_with_schema,
    parse_regex,
    schema_validator,
    score_schema,
)
from corpusforge.pipeline.steps.llm_config import LLMDefaults, LLMStepParams

BUILTIN_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "llm"
REPORT_DIR = "llm_steps"  # under OUTPUT/.corpusforge: one JSON per step and task (model, templates, counts)
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
        settings = params.resolved(ctx.extra.get("llm"))
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
        self.max_tokens = settings.sampling.max_tokens or self.default_max_tokens
        self.outcomes: Counter = Counter()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for pipeline workers without what is rebuilt on demand (jinja objects, validators, engine)."""
        state = dict(self.__dict__)
        for key in ("_template", "_validate", "writer", "counters", "outcomes"):
            state.pop(key, None)
        return state

    def template_files(self) -> list[str]:
        return [f"{name}.{lang}.jinja" for name in self.template_names for lang in ("en", "zh")]

    def template_hashes(self) -> dict[str, str]:
        return self.templates.hashes(self.template_files())

    # ---- what each step defines --------------------------------------------------------------------------------
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
        from corpusforge.llm.engine import EngineCounters, release, shared_engine

        spec = self.settings.model.model_copy(update={"backend": vllm_defaults(self.settings.model.backend)})
        engine = shared_engine(
            spec.backend, spec.name, self.settings.chat, self.cache_path, f"build step {self.name}"
        )
        self.counters = EngineCounters()
        self.outcomes = Counter()
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
                else:
                    task.reasons.append(verdict.reason)
                    self.outcomes[f"failed_{verdict.reason}"] += 1
                    still.append(task)
            pending = still
        out: list[Document] = []
        for doc, task in zip(batch, tasks):
            if isinstance(task, str):
                self.count(f"unchanged_{task}")
                out.append(doc)
            elif task.done:
                out += self.accept(task)
            else:
                out += self.fallback(task)
        return out

    def request(self, task: Task, attempt: int):
        from corpusforge.llm.prompts import Message
        from corpusforge.llm.requests import GenerateRequest

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


def _add_transform(doc: Document, step: str) -> None:
    doc.metadata["transforms"] = list(doc.metadata.get("transforms") or []) + [step]


def _note(doc: Document, step: str, fallback: str | None) -> None:
    """Record on the document what the step did: the transform when the model's text is used, else the reason."""
    if fallback is None:
        _add_transform(doc, step)
    else:
        doc.metadata.setdefault("llm_fallback", {})[step] = fallback


class RewriteStep(LLMStep):
    """A step whose accepted answer replaces the document's text; on fallback the document keeps a text of its
    own (`fallback_text`), and either way the document says which it got."""

    def accept(self, task: Task) -> list[Document]:
        task.doc.text = task.value
        _note(task.doc, self.name, None)
        self.count("rewritten")
        return [task.doc]

    def fallback(self, task: Task) -> list[Document]:
        self.fallback_text(task)
        _note(task.doc, self.name, task.reasons[-1])
        self.count(f"fallback_{task.reasons[-1]}")
        return [task.doc]

    def fallback_text(self, task: Task) -> None:
        """Set the text a failed rewrite leaves; by default the document's own text stays."""


# ---------------------------------------------------------------------------------------------------------------
# kg.rewrite
# ---------------------------------------------------------------------------------------------------------------
@register("kg.rewrite")
class KGRewrite(RewriteStep):
    """Rewrite kg.subgraphs paragraphs from their triples with an LLM; a rewrite must keep every entity."""

    name = "kg.rewrite"
    default_max_tokens = 384
    template_names = ("kg_rewrite",)

    class Params(StepParams, LLMStepParams):
        type: Literal["kg.rewrite"] = "kg.rewrite"

        def check_in_recipe(self, recipe: Any, steps: list[Any], index: int, where: str) -> list[str]:
            """kg.rewrite needs the subgraphs (triples in their metadata) of a kg.subgraphs step before it."""
            problems = super().check_in_recipe(recipe, steps, index, where)
            before = [s for s in steps[:index] if s.type == "kg.subgraphs"]
            if not before:
                return [
                    *problems,
                    f"{where}: kg.rewrite rewrites the subgraphs of a kg.subgraphs step: put it after one",
                ]
            return problems

    def prepare(self, doc: Document) -> Task | str:
        triples = doc.metadata.get("triples")
        if not triples:
            return "no_triples"
        entities = list(dict.fromkeys(x for t in triples for x in (t[0], t[2])))
        language = self.language_of(doc.text)
        facts = [{"head": h, "relation": r, "tail": t} for h, r, t in triples]
        file, prompt = self.render("kg_rewrite", language, triples=facts, entities=entities, draft=doc.text)
        return Task(doc, file, prompt, lambda text: check_kg_rewrite(text, entities), language)

    # a failed rewrite keeps the template paragraph kg.subgraphs wrote (RewriteStep.fallback_text)


# ---------------------------------------------------------------------------------------------------------------
# exam.rewrite
# ---------------------------------------------------------------------------------------------------------------
@register("exam.rewrite")
class ExamRewrite(RewriteStep):
    """Rewrite exam questions into knowledge points with an LLM; falls back to the rule-based knowledge point."""

    name = "exam.rewrite"
    default_max_tokens = 384
    template_names = ("exam_rewrite",)

    class Params(StepParams, LLMStepParams):
        type: Literal["exam.rewrite"] = "exam.rewrite"
        include_explanation: bool = True
        """the explanation, when the source has one, is shown to the model and kept in the fallback"""
        rules: str | None = None
        """the fallback's rules YAML (as for exam.knowledge_points)"""

    @cached_property
    def writer(self):
        from corpusforge.pipeline.steps.exam import KnowledgePointWriter

        return KnowledgePointWriter(Path(self.params.rules) if self.params.rules else None,
                                    self.params.include_explanation)  # fmt: skip

    def prepare(self, doc: Document) -> Task | str:
        from corpusforge.formats.multiple_choice import MalformedQuestion, MCQuestion

        record = doc.metadata.get("mc")
        if not isinstance(record, dict):
            return "no_mc"
        try:
            mc = MCQuestion.from_record(record)
        except MalformedQuestion:
            return "bad_mc"
        language = self.language_of(mc.question)
        file, prompt = self.render(
            "exam_rewrite",
            language,
            question=mc.question,
            options=[(k, answer_core(t) or t) for k, t in mc.options],
            answer=answer_core(mc.answer_text) or mc.answer_text,
            answer_key=mc.answer,
            explanation=mc.explanation if self.params.include_explanation else None,
            context=mc.context,
        )
        task = Task(doc, file, prompt, lambda text: check_exam_rewrite(text, mc.answer_text), language)
        task.extra["mc"] = mc
        return task

    def fallback_text(self, task: Task) -> None:
        """The rule-based knowledge point (exam.knowledge_points), as a recipe without LLM steps writes it."""
        text, rule = self.writer.rewrite(task.extra["mc"], task.language)
        task.doc.text = text
        task.doc.metadata["knowledge_point_rule"] = rule
        _add_transform(task.doc, "exam.knowledge_points")


# ---------------------------------------------------------------------------------------------------------------
# llm.qa_from_text
# ---------------------------------------------------------------------------------------------------------------
@register("llm.qa_from_text")
class QAFromText(LLMStep):
    """Instruction pairs written from a passage used as hidden reference (HuatuoGPT-II); emits chat records."""

    name = "llm.qa_from_text"
    default_max_tokens = 768
    template_names = ("qa_from_text",)
    changes_cardinality = True

    class Params(StepParams, LLMStepParams):
        type: Literal["llm.qa_from_text"] = "llm.qa_from_text"
        max_pairs: int = Field(3, ge=1, le=20)
        min_passage_chars: int = Field(200, ge=1, description="shorter passages are dropped (passage_too_short)")
        max_passage_chars: int = Field(6000, ge=100, description="longer passages are cut here for the prompt")
        min_answer_chars: int = Field(20, ge=1)
        task: str = "free_qa/from_text"
        task_id: int | None = None
        system_prompt: str | None = Field(None, description="system turn of the records written (not of the request)")

    def prepare(self, doc: Document) -> Task | str:
        passage = doc.text.strip()
        language = self.language_of(passage)
        cut = passage[: self.params.max_passage_chars]
        file, prompt = self.render("qa_from_text", language, passage=cut, max_pairs=self.params.max_pairs)
        validate = self._validate
        p = self.params
        return Task(doc, file, prompt, lambda text: self._check(text, validate, p), language,
                    json_schema=json.dumps(QA_SCHEMA, sort_keys=True))  # fmt: skip

    @cached_property
    def _validate(self):
        return schema_validator(QA_SCHEMA)

    def _check(self, text: str, validate, p) -> Checked:
        checked, left_out = check_qa_pairs(text, validate, p.max_pairs, p.min_answer_chars)
        if checked.ok:
            checked.value = (checked.value, left_out)
        return checked

    def process(self, batch: list[Document], engine) -> list[Document]:
        self.stat_update("documents_in", value=len(batch))
        short = [d for d in batch if len(d.text.strip()) < self.params.min_passage_chars]
        for _ in short:
            self.drop("passage_too_short")
        return super().process([d for d in batch if len(d.text.strip()) >= self.params.min_passage_chars], engine)

    def accept(self, task: Task) -> list[Document]:
        from corpusforge.instruct.record import flat_text, make_record, messages_from
        from corpusforge.instruct.tasks import UnknownTask, resolve_task_id

        pairs, left_out = task.value
        for reason, n in left_out.items():
            self.count(f"pairs_left_out_{reason}", n)
        doc, p = task.doc, self.params
        try:
            task_id = resolve_task_id(p.task, self.task_ids, p.task_id)
        except UnknownTask as e:
            raise ConfigError(f"llm.qa_from_text.task: {e.args[0]}") from None
        source = doc.metadata.get("source") or self.source
        provenance = {**(doc.metadata.get("provenance") or {}), "record_id": doc.id}
        out = []
        for k, (question, answer) in enumerate(pairs):
            record = make_record(
                id=f"{doc.id}/qa{k}",
                source=source,
                task=p.task,
                task_id=task_id,
                language=task.language,
                messages=messages_from(question, answer, p.system_prompt),
                provenance=provenance,
                meta={
                    "passage_id": doc.id,
                    "generated_by": self.settings.model.name,
                    "template": self.template_hash(task),
                },  # fmt: skip
            )
            out.append(
                Document(
                    text=flat_text(record),
                    id=record["id"],
                    metadata={
                        "record": record,
                        "source": source,
                        "provenance": provenance,
                        "transforms": list(doc.metadata.get("transforms") or []) + [self.name],
                    },  # fmt: skip
                )
            )
        self.stat_update("expanded")
        self.stat_update("documents_out", value=len(out))
        self.count("pairs", len(out))
        return out

    def fallback(self, task: Task) -> list[Document]:
        return self.drop(f"qa_{task.reasons[-1]}")


# ---------------------------------------------------------------------------------------------------------------
# llm.score
# ---------------------------------------------------------------------------------------------------------------
@register("llm.score")
class LLMScore(LLMStep):
    """An LLM's 0..N educational score in the document's metadata; documents under `threshold` are dropped."""

    name = "llm.score"
    default_max_tokens = 16
    template_names = ("score",)

    class Params(StepParams, LLMStepParams):
        type: Literal["llm.score"] = "llm.score"
        key: str = Field("llm_score", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="metadata key of the score")
        scale_max: int = Field(5, ge=1, le=100)
        threshold: float | None = Field(None, ge=0, description="drop documents scoring below it")
        max_chars: int = Field(6000, ge=100, description="text shown to the model is cut here")
        on_failure: Literal["keep", "drop"] = "keep"

    @cached_property
    def _validate(self):
        return schema_validator(score_schema(self.params.scale_max))

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
        _note(task.doc, self.name, task.reasons[-1])
        self.count(f"unscored_{task.reasons[-1]}")
        return [task.doc]


# ---------------------------------------------------------------------------------------------------------------
# llm.generate
# ---------------------------------------------------------------------------------------------------------------
class TextParser(StrictModel):
    type: Literal["text"] = "text"


class JsonParser(StrictModel):
    type: Literal["json"]
    json_schema: dict[str, Any] | None = Field(None, alias="schema", description="checked, and enforced by vLLM")
    field: str | None = Field(None, description="store only this key of the JSON object")

    model_config = {**StrictModel.model_config, "populate_by_name": True}

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, schema: dict | None) -> dict | None:
        if schema is not None:
            import jsonschema

            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as e:
                raise ValueError(f"not a valid JSON Schema: {e.message}") from None
        return schema


class RegexParser(StrictModel):
    type: Literal["regex"]
    pattern: str
    group: int | str = 0
    constrain: bool = Field(False, description="also constrain decoding to the pattern (vLLM / servers)")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as e:
            raise ValueError(f"not a valid regular expression ({e})") from None
        return pattern


@register("llm.generate")
class LLMGenerate(LLMStep):
    """The general LLM step: the recipe's jinja template, an output parser, and the field the answer goes to."""

    name = "llm.generate"
    default_max_tokens = 256

    class Params(StepParams, LLMStepParams):
        type: Literal["llm.generate"] = "llm.generate"
        template: str | None = Field(None, description="jinja text; variables: text, id, source, metadata")
        template_path: str | None = Field(None, description="or a jinja file")
        system: str | None = Field(None, description="a system message sent before the rendered prompt")
        parser: TextParser | JsonParser | RegexParser = Field(default_factory=TextParser, discriminator="type")
        target: str = Field("text", pattern=r"^(text|metadata\.[A-Za-z_][A-Za-z0-9_]*)$")
        max_chars: int = Field(6000, ge=100, description="the document text given to the template is cut here")
        on_failure: Literal["keep", "drop"] = "keep"

        @model_validator(mode="after")
        def _one_template(self):
            if (self.template is None) == (self.template_path is None):
                raise ValueError("give exactly one of template (jinja text) or template_path (a jinja file)")
            if self.template is not None:
                from jinja2 import Environment, TemplateSyntaxError

                try:
                    Environment().parse(self.template)
                except TemplateSyntaxError as e:
                    raise ValueError(f"template: line {e.lineno}: {e.message}") from None
            return self

    def __init__(self, params: Params, *args, **kwargs):
        super().__init__(params, *args, **kwargs)
        self._template_text = self._read_template()
        self._template_hash = text_hash(self._template_text)
        _ = self._template  # a template that does not compile fails here, before any I/O

    def _read_template(self) -> str:
        params = self.params
        if params.template is not None:
            return params.template
        try:
            return Path(params.template_path).read_text("utf-8")
        except OSError as e:
            raise ConfigError(f"llm.generate.template_path: {params.template_path}: {e.strerror}") from None

    @cached_property
    def _template(self):
        from jinja2 import Environment, StrictUndefined, TemplateSyntaxError

        try:
            return Environment(undefined=StrictUndefined, autoescape=False).from_string(self._template_text)
        except TemplateSyntaxError as e:
            raise ConfigError(f"llm.generate.template: line {e.lineno}: {e.message}") from None

    @cached_property
    def _validate(self):
        schema = getattr(self.params.parser, "json_schema", None)
        return schema_validator(schema) if schema is not None else (lambda value: [])

    def template_files(self) -> list[str]:
        return []

    def template_hashes(self) -> dict[str, str]:
        return {self.params.template_path or "inline": self._template_hash}

    def template_hash(self, task: Task) -> str:
        return self._template_hash

    def prepare(self, doc: Document) -> Task | str:
        from jinja2 import UndefinedError

        try:
            prompt = self._template.render(
                text=doc.text[: self.params.max_chars], id=doc.id, source=doc.metadata.get("source"),
                metadata=doc.metadata,
            ).strip()  # fmt: skip
        except UndefinedError as e:
            return f"template_{_slug(str(e))}"
        parser = self.params.parser
        task = Task(doc, "inline", prompt, self._parse, self.language_of(doc.text))
        if isinstance(parser, JsonParser) and parser.json_schema is not None:
            task.json_schema = json.dumps(parser.json_schema, sort_keys=True)
        if isinstance(parser, RegexParser) and parser.constrain:
            task.regex = parser.pattern
        return task

    def _parse(self, text: str) -> Checked:
        parser = self.params.parser
        if isinstance(parser, TextParser):
            cleaned = clean_text(text)
            return Checked(cleaned) if cleaned else Checked(reason="empty_output")
        if isinstance(parser, RegexParser):
            return parse_regex(text, re.compile(parser.pattern), parser.group)
        checked = parse_json_with_schema(text, self._validate)
        if checked.ok and parser.field is not None:
            if not isinstance(checked.value, dict) or parser.field not in checked.value:
                return Checked(reason="missing_field")
            checked.value = checked.value[parser.field]
        return checked

    def accept(self, task: Task) -> list[Document]:
        target = self.params.target
        if target == "text":
            value = task.value if isinstance(task.value, str) else json.dumps(task.value, ensure_ascii=False)
            task.doc.text = value
        else:
            task.doc.metadata[target.removeprefix("metadata.")] = task.value
        _note(task.doc, self.name, None)
        self.count("generated")
        return [task.doc]

    def fallback(self, task: Task) -> list[Document]:
        if self.params.on_failure == "drop":
            return self.drop(f"llm_generate_{task.reasons[-1]}")
        _note(task.doc, self.name, task.reasons[-1])
        self.count(f"unchanged_{task.reasons[-1]}")
        return [task.doc]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.casefold()).strip("_")[:40] or "error"


def iter_reports(state_dir: Path) -> Iterator[dict[str, Any]]:
    """Every LLM step report under OUTPUT/.corpusforge/llm_steps (one per step and task)."""
    folder = state_dir / REPORT_DIR
    if folder.is_dir():
        for path in sorted(folder.glob("*/*/*.json")):
            yield json.loads(path.read_text())


SUMMED = ("requests", "cache_hits", "sent", "deduplicated", "prompt_tokens", "cached_prompt_tokens",
          "completion_tokens")  # fmt: skip


def summarize_reports(state_dir: Path) -> list[dict[str, Any]]:
    """One entry per (source, step): model, sampling, templates, and counts summed over the step's tasks."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for report in iter_reports(state_dir):
        key = (report["source"], report["step"])
        entry = merged.get(key)
        if entry is None:
            entry = merged[key] = {
                k: report[k] for k in ("source", "step", "model", "model_config_sha256", "backend", "chat")
            }
            entry.update(sampling=report["sampling"], retries=report["retries"], templates=report["templates"])
            entry.update({k: 0 for k in SUMMED}, errors={}, outcomes={}, tasks=0)
        entry["tasks"] += 1
        for k in SUMMED:
            entry[k] += int(report["counters"].get(k, 0))
        for name in ("errors", "outcomes"):
            source = report["counters"]["errors"] if name == "errors" else report["outcomes"]
            for k, v in source.items():
                entry[name][k] = entry[name].get(k, 0) + v
    return [merged[k] for k in sorted(merged)]


def reports_markdown(entries: list[dict[str, Any]]) -> str:
    """The card's "LLM steps" section: what answered, with which settings, and what came of it."""
    from corpusforge.output.card import markdown_table

    rows = []
    for e in entries:
        outcomes = {k: v for k, v in e["outcomes"].items() if not k.startswith(("failed_", "answered_on_try_"))}
        rows.append([
            f"`{e['source']}` {e['step']}", f"`{e['model']}` ({e['backend']}, config {e['model_config_sha256']})",
            e["requests"], e["sent"], e["cache_hits"], e["prompt_tokens"], e["completion_tokens"],
            ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "-",
        ])  # fmt: skip
    table = markdown_table(
        ["step", "model", "requests", "sent", "from cache", "prompt tokens", "generated tokens", "outcomes"], rows
    )
    details = [
        f"- `{e['source']}` {e['step']}: sampling {json.dumps(e['sampling'])}, retries {json.dumps(e['retries'])}, "
        f"templates {json.dumps(e['templates'])}"
        for e in entries
    ]
    return (
        table + "\n\nFailed checks are retried, then the step falls back (`fallback_<reason>`: the template text "
        "is kept) or drops the document (`dropped_<reason>`). Settings:\n\n" + "\n".join(details)
    )
