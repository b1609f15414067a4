"""Stable names for corpus operations.

Every operation a recipe can name is a datatrove PipelineStep registered here under a stable, dotted name
(`books.strip_nontext`, `filter.length`, `read.pubmed_xml`). Each step class carries a nested pydantic `Params`
model whose `type` field is that name, so a recipe's list of steps is validated as a discriminated union: an
unknown name fails with the list of known ones, a bad parameter fails with its path.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field

from corpusforge.config import StrictModel

if TYPE_CHECKING:
    from datatrove.pipeline.base import PipelineStep

StepKind = Literal["reader", "step"]


class StepParams(StrictModel):
    """Parameters of one registered step; subclasses narrow `type` to `Literal["the.name"]` and add fields."""

    type: str


@dataclass
class BuildContext:
    """What a step may need to know about the run it is part of (never the data itself)."""

    source: str
    output_dir: Path
    work_dir: Path
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def quarantine_dir(self) -> Path:
        return self.output_dir / "quarantine" / self.source


@dataclass(frozen=True)
class RegisteredStep:
    name: str
    kind: StepKind
    cls: type

    @property
    def params(self) -> type[StepParams]:
        return self.cls.Params

    @property
    def summary(self) -> str:
        return ((self.cls.__doc__ or "").strip().splitlines() or [""])[0]

    def build(self, params: StepParams, ctx: BuildContext) -> PipelineStep:
        """`cls.from_params(params, ctx)` where the class needs the context, else `cls(**params)`."""
        if hasattr(self.cls, "from_params"):
            return self.cls.from_params(params, ctx)
        return self.cls(**params.model_dump(exclude={"type"}))


_REGISTRY: dict[str, RegisteredStep] = {}


def register(name: str, kind: StepKind = "step"):
    """Class decorator: register a PipelineStep subclass (with a nested `Params` model) under `name`."""

    def deco(cls):
        params = getattr(cls, "Params", None)
        if params is None or "type" not in params.model_fields:
            raise TypeError(f"{cls.__name__} needs a nested `Params(StepParams)` with `type: Literal[{name!r}]`")
        if name in _REGISTRY and _REGISTRY[name].cls.__qualname__ != cls.__qualname__:
            raise ValueError(f"step name {name!r} is registered twice ({_REGISTRY[name].cls} and {cls})")
        _REGISTRY[name] = RegisteredStep(name=name, kind=kind, cls=cls)
        return cls

    return deco


# the modules whose import registers corpusforge's own steps and readers; importing them only here keeps pipeline
# workers lean: a worker unpickling its steps imports the modules of those steps, not every step there is
BUILTIN_STEP_MODULES = (
    "corpusforge.pipeline.readers.books",
    "corpusforge.pipeline.readers.jsonl",
    "corpusforge.pipeline.readers.kg",
    "corpusforge.pipeline.readers.pmc",
    "corpusforge.pipeline.readers.pubmed",
    "corpusforge.pipeline.readers.records",
    "corpusforge.pipeline.steps.books",
    "corpusforge.pipeline.steps.clean",
    "corpusforge.pipeline.steps.decontam",
    "corpusforge.pipeline.steps.exam",
    "corpusforge.pipeline.steps.filters",
    "corpusforge.pipeline.steps.kg",
    "corpusforge.instruct.eval_sets",
    "corpusforge.instruct.steps",
    "corpusforge.instruct.adapters.free_qa",
    "corpusforge.instruct.adapters.multiple_choice",
    "corpusforge.instruct.adapters.promptcblue",
    "corpusforge.instruct.adapters.pseudo_labels",
    "corpusforge.instruct.adapters.pubmedqa",
)


@cache
def load_builtin_steps() -> None:
    """Import the modules that register corpusforge's own steps (cheap: no torch, no vllm)."""
    for module in BUILTIN_STEP_MODULES:
        importlib.import_module(module)


def registered(kind: StepKind | None = None) -> dict[str, RegisteredStep]:
    load_builtin_steps()
    return {n: r for n, r in sorted(_REGISTRY.items()) if kind is None or r.kind == kind}


def params_union(kind: StepKind) -> Any:
    """A pydantic type accepting the params of any registered step of `kind`, told apart by `type`."""
    models = tuple(r.params for r in registered(kind).values())
    if len(models) == 1:
        return models[0]
    return Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007


def build_step(params: StepParams, ctx: BuildContext) -> PipelineStep:
    return registered()[params.type].build(params, ctx)
