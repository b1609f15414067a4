"""Relation templates: how a triple's relation becomes a sentence.

The shipped defaults are corpusforge/pipeline/steps/kg_templates.yaml, extended or overridden by a recipe's
templates file and `templates:` / `templates_zh:`; a relation with no template gets the generic fallback of its
script (en, en_verb, zh). When the triple's entities are Chinese, the Chinese table (`relations_zh`) is looked up
first, so that graphs publishing English relation names (QASystemOnMedicalKG's `has_symptom`, `do_eat`, ...) read
as Chinese sentences. Templates are checked when the step is built, so a bad placeholder fails before any data is
read.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from corpusforge.errors import ConfigError

PLACEHOLDERS = {"head", "relation", "tail", "head_type", "tail_type"}
CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
EN_VERB_FIRST = {"is", "are", "was", "has", "have", "may", "can", "could", "should", "does", "will", "might"}
EN_PREPOSITIONS = {"by", "of", "with", "to", "in", "for", "from", "on", "into", "against", "at", "as"}


def normalise_relation(relation: str) -> str:
    return re.sub(r"[\s\-]+", "_", relation.strip()).casefold()


def template_fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def load_template_file(path: str | Path | None = None) -> dict[str, Any]:
    """The shipped defaults (path None) or a user's templates file in the same format."""
    if path is None:
        text = resources.files("corpusforge.pipeline.steps").joinpath("kg_templates.yaml").read_text("utf-8")
        where = "kg_templates.yaml"
    else:
        if not Path(path).is_file():
            raise ConfigError(f"kg.subgraphs.templates_path: {path}: file not found")
        text = Path(path).read_text(encoding="utf-8")
        where = str(path)
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict) or not set(data) <= {"relations", "relations_zh", "fallback"}:
        raise ConfigError(
            f"{where}: expected a mapping with `relations:` and optionally `relations_zh:` and `fallback:`"
        )
    return data


@dataclass
class RelationTemplates:
    """Relation name -> sentence template, with fallbacks by script; checked when the step is built."""

    relations: dict[str, str]
    fallback: dict[str, str]
    relations_zh: dict[str, str] = None  # type: ignore[assignment]  # for Chinese entities; {} when None

    @classmethod
    def build(
        cls,
        overrides: dict[str, str],
        templates_path: str | None,
        fallback: dict[str, str] | None,
        overrides_zh: dict[str, str] | None = None,
    ) -> RelationTemplates:
        base = load_template_file()
        relations = dict(base.get("relations") or {})
        relations_zh = dict(base.get("relations_zh") or {})
        fallbacks = dict(base.get("fallback") or {})
        if templates_path:
            extra = load_template_file(templates_path)
            relations.update(extra.get("relations") or {})
            relations_zh.update(extra.get("relations_zh") or {})
            fallbacks.update(extra.get("fallback") or {})
        relations.update(overrides)
        relations_zh.update(overrides_zh or {})
        fallbacks.update(fallback or {})
        problems = []
        for key, template in [*(("templates." + k, v) for k, v in relations.items()),
                              *(("templates_zh." + k, v) for k, v in relations_zh.items()),
                              *(("fallback." + k, v) for k, v in fallbacks.items())]:  # fmt: skip
            try:
                unknown = template_fields(str(template)) - PLACEHOLDERS
            except ValueError as e:
                problems.append(f"kg.subgraphs.{key}: not a valid template ({e})")
                continue
            if unknown:
                problems.append(
                    f"kg.subgraphs.{key}: unknown placeholder {{{sorted(unknown)[0]}}}; "
                    f"use {', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}"
                )
        missing = {"en", "en_verb", "zh"} - set(fallbacks)
        if missing:
            problems.append(f"kg.subgraphs.fallback: missing {sorted(missing)} (en, en_verb and zh are needed)")
        if problems:
            raise ConfigError(problems)
        return cls(
            relations=with_normalised(relations), fallback=fallbacks, relations_zh=with_normalised(relations_zh)
        )

    def own_template(self, relation: str, chinese: bool = False) -> str | None:
        """The relation's template in the text's language, or None (the fallback will be used)."""
        if chinese:
            zh = self.relations_zh or {}
            found = zh.get(relation) or zh.get(normalise_relation(relation))
            if found:
                return found
        found = self.relations.get(relation) or self.relations.get(normalise_relation(relation))
        if found and chinese and not CJK_RE.search(found):
            return None  # an English sentence inside Chinese text: the Chinese fallback reads better
        return found

    def has_template(self, relation: str, chinese: bool = False) -> bool:
        return self.own_template(relation, chinese) is not None

    def template(self, relation: str, chinese: bool = False) -> str:
        """The template of a relation; `chinese`: the triple's entities are Chinese."""
        found = self.own_template(relation, chinese)
        if found:
            return found
        if chinese or CJK_RE.search(relation):
            return self.fallback["zh"]
        words = normalise_relation(relation).split("_")
        verb_like = words[0] in EN_VERB_FIRST or (len(words) > 1 and words[-1] in EN_PREPOSITIONS)
        return self.fallback["en_verb" if verb_like else "en"]


def with_normalised(relations: dict[str, Any]) -> dict[str, str]:
    """Templates under their names and their normalised names (`Has Symptom` -> `has_symptom`)."""
    return {
        **{normalise_relation(k): str(v) for k, v in relations.items()},
        **{k: str(v) for k, v in relations.items()},
    }


def humanize_relation(relation: str) -> str:
    """A relation name as words: `has_symptom` / `hasSymptom` / `has-symptom` -> `has symptom`; codes and
    acronyms (`DM`, `NOT`, `ATC`) and Chinese names stay as they are."""
    if CJK_RE.search(relation):
        return relation
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", relation.strip())
    words = re.sub(r"[\s_\-]+", " ", words).strip()
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words.split(" "))


def join_list(items: list[str], chinese: bool) -> str:
    if len(items) == 1:
        return items[0]
    if chinese:
        return "、".join(items[:-1]) + "和" + items[-1]
    return ", ".join(items[:-1]) + " and " + items[-1]


def capitalise(sentence: str) -> str:
    """Upper-case the first letter when the first word is plain lower case (leaves `mRNA`, `pH` alone)."""
    first = sentence.split(" ", 1)[0]
    if first.isalpha() and first.isascii() and first.islower():
        return sentence[0].upper() + sentence[1:]
    return sentence
