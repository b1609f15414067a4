"""Recipe parameters of `kg.subgraphs`: the sampling strategies (ego graph, k-hop tree, random walk), their
defaults, and the labels a strategy gets in document ids and stats."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from corpusforge.config import StrictModel

Count = Union[Literal["all"], Annotated[int, Field(ge=1)], Annotated[float, Field(gt=0, le=1)]]  # noqa: UP007


class StrategyBase(StrictModel):
    """What every strategy shares: how many subgraphs, from which seed nodes, and the smallest one kept.

    count: "all" (one subgraph per eligible seed node), an integer (that many; seeds are drawn without
    replacement and reused, reshuffled, once all were used), or a fraction of the eligible seed nodes (0.25).
    seeds: "heads" (entities that are the head of at least one triple) or "any" node.
    seed_types: only entities of these types (head_type/tail_type in the triples) are seeds.
    """

    name: str | None = None  # label in ids and stats; default: the kind (suffixed when a kind is used twice)
    count: Count = "all"
    seeds: Literal["heads", "any"] = "heads"
    seed_types: list[str] | None = None
    min_triples: int = Field(2, ge=1)  # smaller subgraphs are not emitted


class EgoStrategy(StrategyBase):
    """All triples among the entities within `radius` hops of the seed (like networkx.ego_graph), closest first."""

    kind: Literal["ego"] = "ego"
    radius: int = Field(1, ge=1)
    max_edges: int = Field(12, ge=1)


class KHopStrategy(StrategyBase):
    """A breadth-first tree: from each reached entity, up to `fanout` random new neighbours, `k` hops deep."""

    kind: Literal["khop"] = "khop"
    k: int = Field(2, ge=1)
    fanout: int = Field(3, ge=1)
    max_edges: int = Field(30, ge=1)


class RandomWalkStrategy(StrategyBase):
    """A random walk of `length` steps over the undirected graph; every traversed triple is taken."""

    kind: Literal["random_walk"] = "random_walk"
    length: int = Field(8, ge=1)
    max_edges: int | None = Field(None, ge=1)  # default: `length`


Strategy = Annotated[Union[EgoStrategy, KHopStrategy, RandomWalkStrategy], Field(discriminator="kind")]  # noqa: UP007
DEFAULT_STRATEGIES = [
    EgoStrategy(radius=1, max_edges=12),
    KHopStrategy(k=2, fanout=3, max_edges=30, count=0.5),
    RandomWalkStrategy(length=8, count=0.5),
]


def strategy_names(strategies: list[StrategyBase]) -> list[str]:
    kinds = [s.kind for s in strategies]  # type: ignore[attr-defined]
    names = []
    for i, s in enumerate(strategies):
        if s.name:
            names.append(s.name)
        elif kinds.count(s.kind) > 1:  # type: ignore[attr-defined]
            names.append(f"{s.kind}{kinds[: i + 1].count(s.kind)}")  # type: ignore[attr-defined]
        else:
            names.append(s.kind)  # type: ignore[attr-defined]
    return names
