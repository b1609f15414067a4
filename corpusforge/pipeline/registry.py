"""Stable names for corpus operations.

Every operation a recipe can name is a datatrove PipelineStep registered here under a stable, dotted name
(`books.strip_nontext`, `filter.length`, `read.pubmed_xml`), written once, in `@register`. Each step's parameters
are a pydantic model whose `type` field is that name (its nested `Params`, or derived from its `__init__`), so a
recipe's list of steps is validated as a discriminated union: an unknown name fails with the list of known ones, a
bad parameter fails with its path. A module of `corpusforge.pipeline` or `corpusforge.instruct` that registers a
step is found by itself: adding a step is one module and its test.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field, create_model

from corpusforge.config import StrictModel

if TYPE_CHECKING:
    from datatrove.pipeline.base import PipelineStep

    from corpusforge.pipeline.steps.llm.config import LLMDefaults

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
    llm: LLMDefaults | None = None  # the recipe's `llm:` section: model and sampling of every LLM step
    license: str | None = None  # the source's `license:` in the recipe: records whose source states none get it
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def quarantine_dir(self) -> Path:
        return self.output_dir / "quarantine" / self.source


@dataclass(frozen=True)
class RegisteredStep:
    name: str
    kind: StepKind
    cls: type
    origin: str = "corpusforge"  # or `py:` (an import path in a recipe) or `entry point of <dist>`
    params_model: type[StepParams] | None = None  # outside classes: the Params made from their signature

    @property
    def params(self) -> type[StepParams]:
        return self.params_model or self.cls.Params

    @property
    def summary(self) -> str:
        return ((self.cls.__doc__ or "").strip().splitlines() or [""])[0]

    def build(self, params: StepParams, ctx: BuildContext) -> PipelineStep:
        """`cls.from_params(params, ctx)` where the class needs the context, else `cls(**params)`."""
        if hasattr(self.cls, "from_params"):
            return self.cls.from_params(params, ctx)
        # an outside class gets only the arguments the recipe gave: its own defaults stay its own
        return self.cls(**params.model_dump(exclude={"type"}, exclude_unset=self.params_model is not None))


_REGISTRY: dict[str, RegisteredStep] = {}


def register(name: str, kind: StepKind = "step"):
    """Class decorator: register a PipelineStep subclass under `name`, the one place the name is written.

    The class gets `name`, and its parameters get `type: Literal[name]`: from its nested `Params` model where it has
    one (a model of fields with defaults and docstrings), else from its `__init__` signature as an outside step's.
    """

    def deco(cls):
        if name in _REGISTRY and _REGISTRY[name].cls.__qualname__ != cls.__qualname__:
            raise ValueError(f"step name {name!r} is registered twice ({_REGISTRY[name].cls} and {cls})")
        cls.name = name
        cls.Params = named_params(name, cls)
        _REGISTRY[name] = RegisteredStep(name=name, kind=kind, cls=cls)
        return cls

    return deco


def named_params(name: str, cls: type) -> type[StepParams]:
    """The parameters of a registered step, with `type` fixed to `name`; they become `cls.Params`.

    A class that declares `Params` keeps them. One that does not gets its base class's Params plus the named
    arguments of its own `__init__` (a reader's `path`, `glob`, ... come from its base; its own options from its
    signature), or, with no base Params at all, its whole `__init__` signature.
    """
    own = cls.__dict__.get("Params")
    base = own or getattr(cls, "Params", None)
    if not (isinstance(base, type) and issubclass(base, StepParams)):
        model = plugin_params(name, cls)
    else:
        fields = signature_fields(cls.__dict__["__init__"]) if own is None and "__init__" in cls.__dict__ else {}
        if not fields and base.model_fields["type"].annotation == Literal[name]:
            return base
        model = create_model(
            f"{cls.__name__}Params", __base__=base, __doc__=base.__doc__, type=(Literal[name], name), **fields
        )
    # found where pickle looks for it (`module.Class.Params`): a worker unpickling a step's params needs it
    model.__module__, model.__qualname__ = cls.__module__, f"{cls.__qualname__}.Params"
    return model


# the packages whose modules may register corpusforge's own steps and readers: a module that does is found by its
# `@register(` line and imported. Importing only those keeps pipeline workers lean: a worker unpickling its steps
# imports the modules of those steps, not every module there is
STEP_PACKAGES = ("corpusforge.pipeline", "corpusforge.instruct")


@cache
def builtin_step_modules() -> tuple[str, ...]:
    """The modules of STEP_PACKAGES that register a step (found by reading their text, without importing them)."""
    root = Path(__file__).resolve().parents[2]
    modules = []
    for package in STEP_PACKAGES:
        for path in sorted((root / package.replace(".", "/")).rglob("*.py")):
            if path != Path(__file__).resolve() and "@register(" in path.read_text(encoding="utf-8"):
                modules.append(".".join(path.relative_to(root).with_suffix("").parts))
    return tuple(modules)


@cache
def load_builtin_steps() -> None:
    """Import the modules that register corpusforge's own steps (cheap: no torch, no vllm)."""
    for module in builtin_step_modules():
        importlib.import_module(module)


# ---- steps from outside corpusforge ------------------------------------------------------------------------------
PLUGIN_PREFIX = "py:"
ENTRY_POINT_GROUP = "corpusforge.steps"


class PluginError(Exception):
    """A step named by import path or entry point that cannot be loaded; the message says what to do."""


def entry_points() -> dict[str, Any]:
    """Installed packages' steps: entry points of the `corpusforge.steps` group, by name (not loaded)."""
    from importlib.metadata import entry_points as installed

    return {ep.name: ep for ep in installed(group=ENTRY_POINT_GROUP)}


def plugin_params(name: str, cls: type) -> type[StepParams]:
    """The Params a recipe gives an outside class: its own nested `Params`, else its __init__ signature."""
    own = getattr(cls, "Params", None)
    if isinstance(own, type) and issubclass(own, StrictModel):
        fields = {k: (v.annotation, v) for k, v in own.model_fields.items() if k != "type"}
        return create_model(f"{cls.__name__}Params", __base__=StepParams, type=(Literal[name], name), **fields)
    return create_model(
        f"{cls.__name__}Params", __base__=StepParams, type=(Literal[name], name), **signature_fields(cls.__init__)
    )


def signature_fields(init: Any) -> dict[str, Any]:
    """pydantic fields for the named arguments of `init` (`*args`, `**kwargs` and `self` left out)."""
    try:
        hints = typing.get_type_hints(init)
    except Exception:  # noqa: BLE001 - unresolvable annotations: accept any value for those arguments
        hints = {}
    fields: dict[str, Any] = {}
    for pname, p in inspect.signature(init).parameters.items():
        if pname == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        annotation = hints.get(pname, Any)
        if not _validatable(annotation):
            annotation = Any
        fields[pname] = (annotation, ... if p.default is p.empty else p.default)
    return fields


def _validatable(annotation: Any) -> bool:
    """Whether pydantic can validate a value against `annotation` (callables, classes of datatrove: not always)."""
    from pydantic import TypeAdapter

    try:
        TypeAdapter(annotation)
    except Exception:  # noqa: BLE001 - any schema-generation failure means: take the value as given
        return False
    return True


def load_plugin(name: str, kind: StepKind = "step") -> RegisteredStep:
    """Register the class a `py:module:Class` name or an entry point names; PluginError says why it cannot."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name.startswith(PLUGIN_PREFIX):
        target, origin = name[len(PLUGIN_PREFIX) :], "py:"
        module_name, _, attr = target.partition(":")
        if not module_name or not attr:
            raise PluginError(f"{name!r}: write an import path as py:package.module:ClassName")
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise PluginError(
                f"{name!r}: cannot import module {module_name!r} ({e}); is it installed or on PYTHONPATH?"
            ) from None
        cls = module
        for part in attr.split("."):
            cls = getattr(cls, part, None)
            if cls is None:
                raise PluginError(f"{name!r}: module {module_name!r} has no {attr!r}")
    else:
        found = entry_points().get(name)
        if found is None:
            raise PluginError(f"{name!r}: no such step")
        origin = f"entry point of {getattr(found.dist, 'name', '?')}"
        try:
            cls = found.load()
        except Exception as e:  # noqa: BLE001 - a broken plugin must not read as a corpusforge crash
            raise PluginError(
                f"{name!r}: entry point {found.value!r} does not load ({type(e).__name__}: {e})"
            ) from None
    from datatrove.pipeline.base import PipelineStep

    if not (isinstance(cls, type) and issubclass(cls, PipelineStep)):
        raise PluginError(f"{name!r}: {cls!r} is not a datatrove PipelineStep subclass")
    params = plugin_params(name, cls)
    step_kind: StepKind = "reader" if kind == "reader" or _is_reader(cls) else "step"
    _REGISTRY[name] = RegisteredStep(name=name, kind=step_kind, cls=cls, origin=origin, params_model=params)
    return _REGISTRY[name]


def _is_reader(cls: type) -> bool:
    from datatrove.pipeline.readers.base import BaseReader

    return issubclass(cls, BaseReader)


def resolve_plugins(names: list[tuple[str, str, StepKind]]) -> list[str]:
    """Load every step `type` of a recipe that is not built in: `(yaml path, type, kind)` -> problems."""
    problems = []
    known = registered()
    for where, name, kind in names:
        if name in known:
            continue
        if name.startswith(PLUGIN_PREFIX) or name in entry_points():
            try:
                load_plugin(name, kind)
            except PluginError as e:
                problems.append(f"{where}.type: {e}")
    return problems


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
