"""Sampling subgraphs from the triple graph: one sampler per strategy kind (ego, khop, random_walk), each collecting
triple ids around a seed node, and the sequence of seed nodes a strategy draws."""

from __future__ import annotations

import random
from collections.abc import Iterator

from corpusforge.pipeline.steps.kg.graph import TripleGraph
from corpusforge.pipeline.steps.kg.strategies import Count, EgoStrategy, KHopStrategy, RandomWalkStrategy


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


def sample_ego(g: TripleGraph, seed: int, s: EgoStrategy, rng: random.Random) -> list[int]:
    node_cap = s.max_edges + 1  # more nodes than this cannot all be joined by max_edges triples
    order = [seed]
    reached = {seed}
    frontier = [seed]
    for _ in range(s.radius):
        nxt: list[int] = []
        for node in frontier:
            for m in sample_fresh(g.neighbours(node), reached, node_cap - len(order), rng):
                reached.add(m)
                order.append(m)
                nxt.append(m)
        frontier = nxt
        if len(order) >= node_cap:
            break
    budget = TripleBudget(s.max_edges)
    for i, a in enumerate(order):  # pairs closest to the seed first; O(nodes^2) with nodes <= max_edges + 1
        for b in order[i + 1 :]:
            budget.add(g.triples_between(a, b))
            if budget.full:
                return budget.ids
    return budget.ids


def sample_khop(g: TripleGraph, seed: int, s: KHopStrategy, rng: random.Random) -> list[int]:
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
                    return budget.ids
        frontier = nxt
    return budget.ids


def sample_walk(g: TripleGraph, seed: int, s: RandomWalkStrategy, rng: random.Random) -> list[int]:
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
    return budget.ids


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
