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
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        _locations[str(path)] = key_locations(yaml.compose(text, Loader=yaml.SafeLoader))
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


# ---- where each key is in its file, so that a problem says file:line:column --------------------------------------
# A YAML indentation slip often still parses (a key lands one level up or down), and is then reported by the
# validation as `sources.steps: Input should be a valid dictionary`: the line tells where to look.
_locations: dict[str, dict[tuple[str, ...], tuple[int, int]]] = {}  # by file path as given to load_yaml


def key_locations(node: Any, path: tuple[str, ...] = (), seen: frozenset[int] = frozenset()) -> dict:
    """{key path: (line, column)} (1-based) of every key and list item of a composed YAML document."""
    found: dict[tuple[str, ...], tuple[int, int]] = {}
    if node is None or id(node) in seen:  # an alias to an enclosing node: its keys are located already
        return found
    seen = seen | {id(node)}
    if isinstance(node, yaml.MappingNode):
        children = [(str(key.value), key, value) for key, value in node.value]
    elif isinstance(node, yaml.SequenceNode):
        children = [(str(i), item, item) for i, item in enumerate(node.value)]
    else:
        return found
    for name, key, value in children:
        found[(*path, name)] = (key.start_mark.line + 1, key.start_mark.column + 1)
        found.update(key_locations(value, (*path, name), seen))
    return found


def locate(problems: list[str], source: str | None) -> list[str | None]:
    """`FILE:LINE:COLUMN` of each `key.path: message` problem's key (its deepest part in the file), or None."""
    where = _locations.get(source or "", {})
    found: list[str | None] = []
    for problem in problems:
        parts = tuple(problem.split(": ", 1)[0].split(" (type ", 1)[0].split("."))
        while parts and parts not in where:
            parts = parts[:-1]
        found.append(f"{source}:{where[parts][0]}:{where[parts][1]}" if parts else None)
    return found


def config_error(problems: list[str] | str, source: str | None) -> ConfigError:
    """A ConfigError whose problems show the file, line and column of their key when it is in the file."""
    problems = [problems] if isinstance(problems, str) else list(problems)
    return ConfigError(problems, source=source, locations=locate(problems, source))


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
        raise config_error(format_validation_error(e), source) from None


def load_config(model: type[M], path: str | Path, overrides: list[str] | None = None) -> M:
    """YAML file + `--set` overrides -> validated model. No other I/O happens here."""
    data = apply_overrides(load_yaml(path), overrides or [])
    return validate(model, data, source=str(path))


def dump_yaml(model: BaseModel) -> str:
    """The resolved config as YAML (for dry runs and for saving next to outputs)."""
    return yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
