"""Rendering instruction records into chat messages from jinja templates (corpusforge/instruct/templates/).

A template is chosen by name in the recipe; name `X` is the pair of files `X.user.jinja` (the user turn) and
`X.assistant.jinja` (the target). Multiple-choice templates receive question, context, options [{key, text}],
answer, answer_text, explanation and target; free-form templates (`qa`) receive question and answer.

Targets for multiple choice (`target` in the recipe):
- `letter`: "A"
- `option`: "A) yes"
- `sentence`: "The answer is A) yes." (Chinese: "答案是 A) yes。")
With `with_explanation: true`, sources that have an explanation (MedMCQA exp, CMExam Explanation, PubMedQA long
answer, a pseudo-label's reasoning) get it before the answer: a chain-of-thought style target. Records without
one keep the plain answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, Template, TemplateNotFound

from corpusforge.formats.instruction import messages_from
from corpusforge.formats.multiple_choice.question import MCQuestion

Target = Literal["letter", "option", "sentence"]
TEMPLATE_PACKAGE = "corpusforge.instruct"


class UnknownTemplate(LookupError):
    """A template name with no `.user.jinja` / `.assistant.jinja` pair."""


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader(TEMPLATE_PACKAGE, "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
        auto_reload=False,  # templates are package files: no mtime check per render (it was 8 stat calls a record)
    )


def available_templates() -> list[str]:
    """Names usable in a recipe (each has a user and an assistant file)."""
    folder = resources.files(TEMPLATE_PACKAGE) / "templates"
    names = {p.name.removesuffix(".user.jinja") for p in folder.iterdir() if p.name.endswith(".user.jinja")}
    return sorted(n for n in names if folder.joinpath(f"{n}.assistant.jinja").is_file())


@dataclass(frozen=True)
class PromptTemplate:
    """One named template: renders the user turn and the target from the same variables."""

    name: str
    user: Template
    assistant: Template

    def render(self, variables: dict[str, Any], system_prompt: str | None = None) -> list[dict[str, str]]:
        return messages_from(
            self.user.render(**variables).strip(), self.assistant.render(**variables).strip(), system_prompt
        )

    @property
    def digest(self) -> str:
        """A short hash of the template files, kept in record meta so a changed template is visible."""
        folder = resources.files(TEMPLATE_PACKAGE) / "templates"
        h = hashlib.sha256()
        for part in ("user", "assistant"):
            h.update(folder.joinpath(f"{self.name}.{part}.jinja").read_bytes())
        h.update(folder.joinpath("_mc.jinja").read_bytes())
        return h.hexdigest()[:12]


@cache
def load_template(name: str) -> PromptTemplate:
    """The template called `name` (compiled once per process), or UnknownTemplate listing the known names."""
    env = _environment()
    try:
        return PromptTemplate(
            name, env.get_template(f"{name}.user.jinja"), env.get_template(f"{name}.assistant.jinja")
        )
    except TemplateNotFound:
        raise UnknownTemplate(f"unknown template {name!r}; known: {available_templates()}") from None


def render_mc(
    mc: MCQuestion,
    template: str,
    target: Target = "sentence",
    with_explanation: bool = False,
    system_prompt: str | None = None,
) -> list[dict[str, str]]:
    """Chat messages for one multiple-choice question."""
    variables = {
        "question": mc.question,
        "context": mc.context or "",
        "options": [{"key": k, "text": t} for k, t in mc.options],
        "answer": mc.answer,
        "answer_text": mc.answer_text,
        "explanation": (mc.explanation or "") if with_explanation else "",
        "target": target,
    }
    return load_template(template).render(variables, system_prompt)


def render_answer(template: str, target: Target, key: str, text: str) -> str:
    """The assistant turn a multiple-choice template writes when option `key` is the answer (no explanation):
    what option log-likelihood scoring appends to the prompt, so evaluation matches the training targets."""
    variables = {"question": "", "context": "", "options": [], "answer": key, "answer_text": text,
                 "explanation": "", "target": target}  # fmt: skip
    return load_template(template).assistant.render(**variables).strip()


def render_qa(question: str, answer: str, template: str = "qa", system_prompt: str | None = None) -> list[dict]:
    """Chat messages for one free-form question and its answer (or a ready-made prompt and its target)."""
    return load_template(template).render({"question": question, "answer": answer}, system_prompt)
