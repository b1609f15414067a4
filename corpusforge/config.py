"""Strict YAML configs shared by recipes, label jobs and training configs.

Everything a user writes is validated as a whole by pydantic before any I/O: unknown keys are rejected, and
each problem is reported with its dotted path (`sources.books.reader.path: ...`) and, for a choice, the valid
values. Command-line overrides (`--set a.b.c=VALUE`) are applied to the raw YAML before validation, so they are
validated exactly like the file.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from corpusforge.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(e, 'problem', e)})") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e})") from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b.0.c=VALUE` -> (["a", "b", "0", "c"], parsed VALUE). VALUE is read as YAML (`3`, `true`, `[a, b]`)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set executor.tasks=4")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: the key must be a dotted path such as sources.pubmed.reader.path")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of `data` with each `KEY=VALUE` override set; list items are addressed by index."""
    data = copy.deepcopy(data)
    for text in overrides:
        parts, value = parse_override(text)
        node: Any = data
        for i, part in enumerate(parts[:-1]):
            where = ".".join(parts[: i + 1])
            if isinstance(node, list):
                node = node[_list_index(node, part, where, text)]
            elif isinstance(node, dict):
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
            else:
                raise ConfigError(f"--set {text!r}: {where} is a value, not a section")
        last = parts[-1]
        if isinstance(node, list):
            node[_list_index(node, last, ".".join(parts), text)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ConfigError(f"--set {text!r}: {'.'.join(parts[:-1])} is a value, not a section")
    return data


def _list_index(node: list, part: str, where: str, text: str) -> int:
    if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
        raise ConfigError(f"--set {text!r}: {where} must be an index into a list of {len(node)} items")
    return int(part)


def format_validation_error(error: ValidationError) -> list[str]:
    """Turn pydantic's errors into `dotted.path: message` lines a user can act on."""
    problems = []
    for err in error.errors():
        loc = [str(p) for p in err["loc"]]
        # pydantic puts a discriminated union's tag into the path (`steps.0.books.chunk.max_chars`); registered
        # names are the only path parts with dots, so take them out and say which type the key belongs to
        tags = [p for p in loc if "." in p]
        path = ".".join(p for p in loc if "." not in p) or "(top level)"
        if tags:
            path += f" (type {tags[-1]})"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see the recipe reference in the README)"
        elif err["type"] == "union_tag_invalid":
            ctx = err.get("ctx", {})
            msg = f"unknown type {ctx.get('tag')!r}; valid choices: {ctx.get('expected_tags')}"
        elif err["type"] == "literal_error":
            msg = f"{msg} (got {err.get('input')!r})"
        problems.append(f"{path}: {msg}")
    return problems


def validate(model: type[M], data: dict[str, Any], source: str | None = None) -> M:
    """Validate `data` against `model`, raising one ConfigError that lists every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e), source=source) from None


def load_config(model: type[M], path: str | Path, overrides: list[str] | None = None) -> M:
    """YAML file + `--set` overrides -> validated model. No other I/O happens here."""
    data = apply_overrides(load_yaml(path), overrides or [])
    return validate(model, data, source=str(path))


def dump_yaml(model: BaseModel) -> str:
    """The resolved config as YAML (for dry runs and for saving next to outputs)."""
    return yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
