"""The recipe schema.

A recipe names its sources (each: a reader and the blocks it goes through), the filters every source shares,
deduplication, the output, and the executor (its schema: corpusforge/runtime/executors.py). It is validated as a
whole, before any file is read or written: unknown keys and unknown step names are errors that name their YAML
path and the valid choices.

Relative paths in a recipe are relative to the directory you run `corpusforge` from.
"""

from __future__ import annotations

import glob
import os
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from corpusforge.config import StrictModel, apply_overrides, config_error, load_yaml, validate
from corpusforge.errors import ConfigError
from corpusforge.instruct.mixing import MixSpec
from corpusforge.pipeline.registry import params_union, registered, resolve_plugins
from corpusforge.pipeline.steps.llm.config import LLMDefaults
from corpusforge.runtime.executors import ExecutorSpec, LocalExecutorSpec

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


# ---- output, dedup -------------------------------------------------------------------------------------------
class CardSpec(StrictModel):
    title: str | None = None
    description: str = ""
    license: str | None = None
    language: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


class TokenizeSpec(StrictModel):
    """Optional packed training shards made with datatrove's DocumentTokenizer from a local tokenizer.json FILE."""

    tokenizer_file: str
    eos_token: str | None = Field(None, description="appended after each document; none: the tokenizer's own")
    max_tokens_per_file: int | None = None
    shuffle: bool = False


class OutputSpec(StrictModel):
    path: str = "out/dataset"
    max_shard_mb: int = Field(512, ge=1, description="parquet shards rotate at this size")
    compression: Literal["zstd", "snappy", "gzip", None] = "zstd"
    validate_records: bool = Field(True, description="check every written record against its JSON Schema")
    card: CardSpec = Field(default_factory=CardSpec)
    tokenize: TokenizeSpec | None = None


class ExactDedupSpec(StrictModel):
    enabled: bool = True


class MinhashDedupSpec(StrictModel):
    """datatrove's MinHash near-dedup; the defaults match datatrove's (~0.72 Jaccard at 50% detection)."""

    enabled: bool = True
    n_grams: int = 5
    num_buckets: int = 14
    hashes_per_bucket: int = 8
    language: str = "eng"
    implementation: Literal["fast", "datatrove"] = "fast"
    """fast: the same signatures as datatrove's MinhashDedupSignature, computed ~10x cheaper
    (pipeline/steps/minhash.py); datatrove: datatrove's own step"""


class DedupSpec(StrictModel):
    exact: ExactDedupSpec = Field(default_factory=ExactDedupSpec)
    minhash: MinhashDedupSpec = Field(default_factory=MinhashDedupSpec)


# ---- the recipe ----------------------------------------------------------------------------------------------
class RecipeBase(StrictModel):
    name: str
    description: str = ""
    kind: Literal["pretrain", "instruct"] = Field(
        "pretrain", description="pretrain: text documents (stage 1); instruct: chat records, mixed into splits (2, 3)"
    )
    seed: int = 0
    output: OutputSpec = Field(default_factory=OutputSpec)
    executor: ExecutorSpec = Field(default_factory=LocalExecutorSpec)
    dedup: DedupSpec = Field(default_factory=DedupSpec)
    tasks: dict[str, int] = Field(
        default_factory=dict, description="instruct: task name -> integer id (multi-adapter training of stage 3)"
    )
    mix: MixSpec | None = Field(None, description="instruct: weights, caps and splits of the mixture")
    llm: LLMDefaults | None = Field(None, description="model, backend and sampling of every LLM step (kg.rewrite...)")

    @model_validator(mode="before")
    @classmethod
    def _instruct_defaults(cls, data: Any) -> Any:
        """Instruction data rendered from templates looks near-duplicate to MinHash: off unless asked for."""
        if isinstance(data, dict) and data.get("kind") == "instruct":
            if data.get("dedup") is None:
                data["dedup"] = {}
            dedup = data["dedup"]
            if isinstance(dedup, dict):
                if dedup.get("minhash") is None:
                    dedup["minhash"] = {}
                if isinstance(dedup["minhash"], dict):
                    dedup["minhash"].setdefault("enabled", False)
        return data

    @model_validator(mode="after")
    def _kind_sections(self) -> RecipeBase:
        if self.kind == "pretrain" and (self.mix is not None or self.tasks):
            raise ValueError("`mix` and `tasks` are for `kind: instruct` recipes")
        if self.kind == "instruct" and self.mix is None:
            self.mix = MixSpec()
        if self.kind == "instruct" and self.output.tokenize is not None:
            raise ValueError("output.tokenize packs documents for pretraining: it needs `kind: pretrain`")
        return self

    # set by `recipe_model()`: sources: dict[str, SourceSpec]; filters: list[step params]

    def enabled_sources(self) -> dict[str, Any]:
        return {name: spec for name, spec in self.sources.items() if spec.enabled}  # type: ignore[attr-defined]


def recipe_model() -> type[RecipeBase]:
    """The recipe model, with step lists typed by every step registered at this point."""
    return _recipe_model(tuple(registered()))


@cache
def _recipe_model(step_names: tuple[str, ...]) -> type[RecipeBase]:
    reader_union = params_union("reader")
    step_union = params_union("step")

    class SourceSpec(StrictModel):
        reader: reader_union  # type: ignore[valid-type]
        steps: list[step_union] = Field(default_factory=list)  # type: ignore[valid-type]
        skip_shared_filters: list[str] = Field(
            default_factory=list, description="names of shared filters this source does not go through"
        )
        enabled: bool = True
        license: str | None = Field(
            None,
            description="the licence of records whose source states none (e.g. cc-by-4.0, mit, public-domain); "
            "a licence the source states per record (JATS <license>, a Gutenberg notice) wins",
        )

    class Recipe(RecipeBase):
        sources: dict[str, SourceSpec] = Field(..., min_length=1)
        filters: list[step_union] = Field(default_factory=list)  # type: ignore[valid-type]

        @field_validator("sources")
        @classmethod
        def _source_names(cls, sources: dict[str, Any]) -> dict[str, Any]:
            for name in sources:
                if not SOURCE_NAME.match(name):
                    raise ValueError(f"source name {name!r}: use lowercase letters, digits, '_' and '-'")
            return sources

        @model_validator(mode="after")
        def _steps_fit_the_recipe(self) -> Recipe:
            """Checks a step can only make against the whole recipe (`check_in_recipe` on its Params)."""
            problems = []
            lists = [(f"sources.{n}.steps", s.steps) for n, s in self.sources.items() if s.enabled]
            for prefix, steps in [*lists, ("filters", self.filters)]:
                for i, step in enumerate(steps):
                    if hasattr(step, "check_in_recipe"):
                        problems += step.check_in_recipe(self, steps, i, f"{prefix}.{i}")
            if problems:
                raise ConfigError(list(dict.fromkeys(problems)))
            return self

        @model_validator(mode="after")
        def _skipped_filters_exist(self) -> Recipe:
            shared = {f.type for f in self.filters}
            for name, source in self.sources.items():
                unknown = sorted(set(source.skip_shared_filters) - shared)
                if unknown:
                    raise ValueError(
                        f"sources.{name}.skip_shared_filters: {unknown} are not shared filters; "
                        f"the shared filters are {sorted(shared)}"
                    )
            return self

    return Recipe


def load_recipe(path: str | Path, overrides: list[str] | None = None, output: str | None = None) -> RecipeBase:
    """Read, override (`--set`, `--output`) and validate a recipe. Reads only the YAML file itself."""
    data = apply_overrides(load_yaml(path), overrides or [])
    if output is not None:
        data.setdefault("output", {})
        if not isinstance(data["output"], dict):
            raise ConfigError("output: must be a section (with at least `path:`)", source=str(path))
        data["output"]["path"] = output
    problems = resolve_plugins(step_types(data))
    if problems:
        raise config_error(problems, str(path))
    try:
        return validate(recipe_model(), data, source=str(path))
    except ConfigError as e:  # raised by a whole-recipe check inside validation: name the file too
        if e.source is None:
            raise config_error(e.problems, str(path)) from None
        raise


def step_types(data: Any) -> list[tuple[str, str, str]]:
    """(yaml path, type, kind) of every reader and step a raw recipe names, to load outside steps first."""
    found: list[tuple[str, str, str]] = []
    if not isinstance(data, dict):
        return found
    sources = data.get("sources")
    for name, source in sources.items() if isinstance(sources, dict) else []:
        if not isinstance(source, dict):
            continue
        reader = source.get("reader")
        if isinstance(reader, dict) and isinstance(reader.get("type"), str):
            found.append((f"sources.{name}.reader", reader["type"], "reader"))
        for i, step in enumerate(source.get("steps") or [] if isinstance(source.get("steps"), list) else []):
            if isinstance(step, dict) and isinstance(step.get("type"), str):
                found.append((f"sources.{name}.steps.{i}", step["type"], "step"))
    for i, step in enumerate(data.get("filters") or [] if isinstance(data.get("filters"), list) else []):
        if isinstance(step, dict) and isinstance(step.get("type"), str):
            found.append((f"filters.{i}", step["type"], "step"))
    return found


def check_inputs(recipe: RecipeBase) -> list[str]:
    """Problems with the files a recipe names (missing paths, globs matching nothing), as `yaml.path: message`."""
    problems = []
    for name, source in recipe.sources.items():  # type: ignore[attr-defined]
        if not source.enabled:
            continue
        problems += _check_path_fields(f"sources.{name}.reader", source.reader)
        for i, step in enumerate(source.steps):
            problems += _check_path_fields(f"sources.{name}.steps.{i}", step) or _step_problems(
                f"sources.{name}.steps.{i}", step
            )
    for i, step in enumerate(recipe.filters):  # type: ignore[attr-defined]
        problems += _check_path_fields(f"filters.{i}", step) or _step_problems(f"filters.{i}", step)
    if recipe.output.tokenize and not os.path.isfile(recipe.output.tokenize.tokenizer_file):
        problems.append(
            f"output.tokenize.tokenizer_file: {recipe.output.tokenize.tokenizer_file}: file not found "
            "(a tokenizer.json FILE; a folder or Hub name would need the network)"
        )
    return problems


def _step_problems(where: str, params: StrictModel) -> list[str]:
    """A step's own check of its inputs beyond existence (`input_problems(params, where)` on its class, if any):
    a reference corpus in a layout the step cannot read, a Hub id that is neither cached nor reachable."""
    entry = registered().get(getattr(params, "type", ""))
    check = getattr(entry.cls, "input_problems", None) if entry else None
    return check(params, where) if check else []


def _check_path_fields(where: str, params: StrictModel) -> list[str]:
    """Every field named `path` or ending in `_path` must point at something that exists."""
    problems = []
    for field_name in type(params).model_fields:
        if field_name != "path" and not field_name.endswith("_path"):
            continue
        value = getattr(params, field_name)
        if not value:
            continue
        glob_value = getattr(params, "glob", None) if field_name == "path" else None
        if glob.has_magic(value):
            if not glob.glob(value, recursive=True):
                problems.append(f"{where}.{field_name}: {value}: no file matches this pattern")
        elif not os.path.exists(value):
            problems.append(f"{where}.{field_name}: {value}: file or folder not found")
        elif os.path.isdir(value):
            pattern = os.path.join(value, "**", glob_value or "*")
            if not any(os.path.isfile(p) for p in glob.iglob(pattern, recursive=True)):
                problems.append(f"{where}.{field_name}: {value}: no input files in this folder")
    return problems
