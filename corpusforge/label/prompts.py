"""Prompt templates: jinja files, one per strategy step, rendered into chat messages; their hash keys the cache.

A job may point `task.templates` at its own folder; files found there replace the built-in ones of the same name
(corpusforge/label/templates/pubmedqa/), the others keep the built-in text. The hash of a strategy covers every
template it renders, including the ones they include, so editing a prompt never reuses an answer to the old one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from corpusforge.errors import ConfigError

BUILTIN_TEMPLATES = Path(__file__).parent / "templates" / "pubmedqa"

STRATEGY_TEMPLATES: dict[str, tuple[str, ...]] = {
    "long-answer": ("long_answer.jinja",),
    "voc": ("voc_explain.jinja", "voc_verify.jinja", "voc_answer.jinja"),
    "cot": ("cot_reason.jinja", "cot_answer.jinja"),
    "ppl": ("ppl.jinja",),
}


class PromptBook:
    """Renders the templates of a task and knows their hash."""

    def __init__(self, override_dir: str | Path | None = None):
        from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

        loaders = []
        if override_dir is not None:
            override_dir = Path(override_dir)
            if not override_dir.is_dir():
                raise ConfigError(f"task.templates: {override_dir} is not a folder")
            loaders.append(FileSystemLoader(str(override_dir)))
        loaders.append(FileSystemLoader(str(BUILTIN_TEMPLATES)))
        self.env = Environment(
            loader=ChoiceLoader(loaders), undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False
        )

    def render(self, name: str, **variables: Any) -> str:
        return self.env.get_template(name).render(**variables).strip()

    def source(self, name: str) -> str:
        source, _, _ = self.env.loader.get_source(self.env, name)
        return source

    def closure(self, names: tuple[str, ...]) -> list[str]:
        """The named templates and every template they include, transitively, sorted."""
        from jinja2 import meta

        seen: set[str] = set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            ast = self.env.parse(self.source(name))
            todo.extend(ref for ref in meta.find_referenced_templates(ast) if ref)
        return sorted(seen)

    def strategy_hash(self, strategy: str) -> str:
        """sha256 (16 hex) over the names and sources of every template `strategy` renders."""
        digest = hashlib.sha256()
        for name in self.closure(STRATEGY_TEMPLATES[strategy]):
            digest.update(name.encode() + b"\0" + self.source(name).encode() + b"\0")
        return digest.hexdigest()[:16]

    def check(self, strategies: list[str]) -> None:
        """Fail before any I/O when a template is missing or does not parse."""
        from jinja2 import TemplateError

        for strategy in strategies:
            for name in STRATEGY_TEMPLATES[strategy]:
                try:
                    self.closure((name,))
                except TemplateError as e:
                    raise ConfigError(f"task.templates: {name}: {e}") from None
