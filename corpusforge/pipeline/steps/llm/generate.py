"""llm.generate: the general LLM step (the recipe's jinja template, an output parser, a target field)."""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from datatrove.data import Document
from pydantic import Field, field_validator, model_validator

from corpusforge.config import StrictModel
from corpusforge.errors import ConfigError
from corpusforge.pipeline.registry import StepParams, register
from corpusforge.pipeline.steps.llm.base import LLMStep, Task, note_outcome, text_hash
from corpusforge.pipeline.steps.llm.checks import (
    Checked,
    clean_text,
    parse_json_with_schema,
    parse_regex,
    schema_validator,
)
from corpusforge.pipeline.steps.llm.config import LLMStepParams


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

    default_max_tokens = 256

    class Params(StepParams, LLMStepParams):
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

    def uses_structure(self) -> bool:
        parser = self.params.parser
        return bool(getattr(parser, "json_schema", None) is not None or getattr(parser, "constrain", False))

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
            task.json_schema = json.dumps(parser.json_schema)  # key order is the order the model writes
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
        note_outcome(task.doc, self.name, None)
        self.count("generated")
        return [task.doc]

    def fallback(self, task: Task) -> list[Document]:
        if self.params.on_failure == "drop":
            return self.drop(f"llm_generate_{task.reasons[-1]}")
        note_outcome(task.doc, self.name, task.reasons[-1])
        self.count(f"unchanged_{task.reasons[-1]}")
        return [task.doc]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.casefold()).strip("_")[:40] or "error"
