"""Sampling subgraphs from the triple graph: one sampler per strategy kind (ego, khop, random_walk), each collecting
the triple ids of one or more subgraphs around a seed node; `cover_parts`, which gathers what no strategy took;
and the sequence of seed nodes a strategy draws."""

from __future__ import annotations

import random
from collections.abc import Iterator

from corpusforge.pipeline.steps.kg.graph import TripleGraph
from corpusforge.pipeline.steps.kg.strategies import (
    Count,
    CoverStrategy,
    EgoStrategy,
    KHopStrategy,
    RandomWalkStrategy,
)


class TripleBudget:
    """Collects distinct triple ids in order, up to a maximum."""

    def __init__(self, limit: int):
        self.limit = limit
        self.ids: list[int] = []
        self._seen: set[int] = set()

    @property
    def full(self) -> bool:
        return len(self.ids) >= self.limit

    def add(self, ids: list[int]) -> None:
        for tid in ids:
            if self.full:
                return
            if tid not in self._seen:
                self._seen.add(tid)
                self.ids.append(tid)


def sample_fresh(neighbours, reached: set[int], k: int, rng: random.Random) -> list[int]:
    """Up to k random neighbours not reached yet; around a hub by rejection, not by scanning all neighbours."""
    if k <= 0:
        return []
    if len(neighbours) <= 4 * k + 16:
        fresh = [m for m in neighbours if m not in reached]
        return rng.sample(fresh, min(k, len(fresh)))
    picked: list[int] = []
    for _ in range(4 * k + 16):
        m = neighbours[rng.randrange(len(neighbours))]
        if m not in reached and m not in picked:
            picked.append(m)
            if len(picked) == k:
                break
    return picked


def split_parts(g: TripleGraph, ids: list[int], max_edges: int) -> list[list[int]]:
    """Triples in parts of at most `max_edges`, as even as possible, grouped by relation (so a part reads as a few
    full sentences: "Symptoms of X include A, B and C." rather than one tail of each relation)."""
    if len(ids) <= max_edges:
        return [ids]
    first_seen: dict[int, int] = {}
    for i, tid in enumerate(ids):
        first_seen.setdefault(g.relation[tid], i)
    ordered = sorted(ids, key=lambda tid: first_seen[g.relation[tid]])  # stable: closest first within a relation
    n = -(-len(ordered) // max_edges)
    size, extra = divmod(len(ordered), n)
    parts, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        parts.append(ordered[start:end])
        start = end
    return parts


def sample_ego(g: TripleGraph, seed: int, s: EgoStrategy, rng: random.Random) -> list[list[int]]:
    # a hub's own triples are split; a wider ego graph (radius 2+) is a sample of a neighbourhood, cut as before
    limit = s.max_edges * (s.max_parts if s.split_hubs and s.radius == 1 else 1)
    return split_parts(g, ego_triples(g, seed, s.radius, limit, rng), s.max_edges)


def ego_triples(g: TripleGraph, seed: int, radius: int, limit: int, rng: random.Random) -> list[int]:
    """Up to `limit` triples among the entities within `radius` hops of the seed, closest first."""
    node_cap = limit + 1  # more nodes than this cannot all be joined by `limit` triples
    order = [seed]
    reached = {seed}
    frontier = [seed]
    for _ in range(radius):
        nxt: list[int] = []
        for node in frontier:
            for m in sample_fresh(g.neighbours(node), reached, node_cap - len(order), rng):
                reached.add(m)
                order.append(m)
                nxt.append(m)
        frontier = nxt
        if len(order) >= node_cap:
            break
    budget = TripleBudget(limit)
    for i, a in enumerate(order):  # pairs closest to the seed first; O(nodes^2) with nodes <= limit + 1
        for b in order[i + 1 :]:
            budget.add(g.triples_between(a, b))
            if budget.full:
                return budget.ids
    return budget.ids


def sample_khop(g: TripleGraph, seed: int, s: KHopStrategy, rng: random.Random) -> list[list[int]]:
    budget = TripleBudget(s.max_edges)
    reached = {seed}
    frontier = [seed]
    for _ in range(s.k):
        nxt: list[int] = []
        for node in frontier:
            for m in sample_fresh(g.neighbours(node), reached, s.fanout, rng):
                reached.add(m)
                nxt.append(m)
                budget.add(g.triples_between(node, m))
                if budget.full:
                    return [budget.ids]
        frontier = nxt
    return [budget.ids]


def sample_walk(g: TripleGraph, seed: int, s: RandomWalkStrategy, rng: random.Random) -> list[list[int]]:
    budget = TripleBudget(s.max_edges or s.length)
    node = seed
    for _ in range(s.length):
        neighbours = g.neighbours(node)
        if not neighbours:
            break
        nxt = neighbours[rng.randrange(len(neighbours))]
        budget.add(g.triples_between(node, nxt))
        if budget.full:
            break
        node = nxt
    return [budget.ids]


def cover_parts(g: TripleGraph, covered: bytearray, s: CoverStrategy) -> Iterator[tuple[int, list[int]]]:
    """(seed, triple ids) of subgraphs over the triples not yet `covered`: entities with most uncovered triples
    first, each taking its uncovered triples (in parts of at most `max_edges`). The caller marks what it keeps as
    covered before asking for the next part, so no triple is taken twice."""
    degree: dict[int, int] = {}
    for tid in range(len(g)):
        if not covered[tid]:
            for node in (g.head[tid], g.tail[tid]):
                degree[node] = degree.get(node, 0) + 1
    for node in sorted(degree, key=lambda n: (-degree[n], n)):
        ids = [t for m in g.neighbours(node) for t in g.triples_between(node, m) if not covered[t]]
        for part in split_parts(g, list(dict.fromkeys(ids)), s.max_edges) if ids else []:
            yield node, part


SAMPLERS = {"ego": sample_ego, "khop": sample_khop, "random_walk": sample_walk}


def seed_sequence(nodes: list[int], count: Count, rng: random.Random) -> Iterator[int]:
    """Seeds for one strategy: a shuffled pass over `nodes`, repeated (reshuffled) for counts above len(nodes)."""
    if not nodes:
        return
    if count == "all":
        total = len(nodes)
    elif isinstance(count, float):
        total = max(1, round(count * len(nodes)))
    else:
        total = count
    while total > 0:
        order = list(nodes)
        rng.shuffle(order)
        yield from order[:total]
        total -= len(order)
