"""Recipe parameters of `kg.subgraphs`: the sampling strategies (ego graph, k-hop tree, random walk, cover), their
defaults, and the labels a strategy gets in document ids and stats.

The defaults cover a graph's hubs and leaves: an ego graph whose seed has more triples than `max_edges` (a disease
with 60 symptoms, drugs and foods) is split into several subgraphs of at most `max_edges` triples, grouped by
relation, instead of being cut; and `cover`, last, gathers every triple no other strategy took (a producer's one
drug, a department's parent) around the entity that has most of them.
"""

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
    """All triples among the entities within `radius` hops of the seed (like networkx.ego_graph), closest first.

    split_hubs (radius 1): a seed with more than `max_edges` triples around it becomes several subgraphs of at most
    `max_edges` (grouped by relation, at most `max_parts` of them) instead of being cut at `max_edges`."""

    kind: Literal["ego"] = "ego"
    radius: int = Field(1, ge=1)
    max_edges: int = Field(12, ge=1)
    split_hubs: bool = True
    max_parts: int = Field(10, ge=1)


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


class CoverStrategy(StrategyBase):
    """The triples no earlier strategy took, gathered around the entity with most of them (then the next one, ...),
    at most `max_edges` per subgraph, grouped by relation; put it last. `count` and `seeds` do not apply: every
    uncovered triple is taken (a lone triple too, with the default `min_triples: 1`)."""

    kind: Literal["cover"] = "cover"
    max_edges: int = Field(12, ge=1)
    min_triples: int = Field(1, ge=1)


Strategy = Annotated[
    Union[EgoStrategy, KHopStrategy, RandomWalkStrategy, CoverStrategy],  # noqa: UP007
    Field(discriminator="kind"),
]
DEFAULT_STRATEGIES = [
    EgoStrategy(radius=1, max_edges=12),
    KHopStrategy(k=2, fanout=3, max_edges=30, count=0.5),
    RandomWalkStrategy(length=8, count=0.5),
    CoverStrategy(max_edges=12),
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
