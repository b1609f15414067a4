"""The triple graph `kg.subgraphs` samples from: every triple of a source, interned, in one networkx DiGraph.

Memory: entity, relation, type and file names are stored once (interned into lists); the graph's nodes are
integer entity ids and each edge carries one compact attribute, the id (or list of ids) of its triple(s); a
triple's relation, head, tail and line live in `array`s. 1M triples stay well under 2 GB (bench/bench_kg.py).
"""

from __future__ import annotations

from array import array

from corpusforge.pipeline.steps.kg.strategies import StrategyBase


class Interner:
    """Each distinct string stored once; ids are list positions."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.ids: dict[str, int] = {}

    def __call__(self, name: str) -> int:
        found = self.ids.get(name)
        if found is None:
            found = self.ids[name] = len(self.names)
            self.names.append(name)
        return found

    def freeze(self) -> None:
        """Drop the reverse index once loading is over (ids keep working through `names`)."""
        self.ids = {}


HUB_DEGREE = 64  # neighbour lists of nodes with more neighbours are cached, so sampling around hubs stays cheap


class TripleGraph:
    """Interned triples in a networkx DiGraph (nodes: entity ids; edge attribute `t`: triple id(s))."""

    def __init__(self) -> None:
        import networkx as nx

        self.graph = nx.DiGraph()
        self.entities = Interner()
        self.relations = Interner()
        self.types = Interner()
        self.files = Interner()
        self.head = array("i")
        self.tail = array("i")
        self.relation = array("i")
        self.file = array("i")
        self.line = array("q")
        self.entity_type = array("i")  # per entity id; -1: unknown
        self._hub_neighbours: dict[int, tuple[int, ...]] = {}
        # the graph's own adjacency dicts: sampling reads them millions of times, and the public views
        # (G.succ[n], an AtlasView per call) cost several times more
        self._succ = self.graph._succ
        self._pred = self.graph._pred

    def __len__(self) -> int:
        return len(self.head)

    def add(self, triple: dict[str, str], file: str, line: int) -> bool:
        """Add one triple; False if the same (head, relation, tail) is already there."""
        h = self._entity(triple["head"], triple.get("head_type"))
        t = self._entity(triple["tail"], triple.get("tail_type"))
        r = self.relations(triple["relation"])
        edge = self._succ[h].get(t) if h in self._succ else None
        if edge is not None:
            ids = edge["t"] if isinstance(edge["t"], list) else [edge["t"]]
            if any(self.relation[i] == r for i in ids):
                return False
        tid = len(self.head)
        self.head.append(h)
        self.tail.append(t)
        self.relation.append(r)
        self.file.append(self.files(file))
        self.line.append(line)
        if edge is None:
            self.graph.add_edge(h, t, t=tid)
        elif isinstance(edge["t"], list):
            edge["t"].append(tid)
        else:
            edge["t"] = [edge["t"], tid]
        return True

    def _entity(self, name: str, type_name: str | None) -> int:
        node = self.entities(name)
        if node == len(self.entity_type):
            self.entity_type.append(self.types(type_name) if type_name else -1)
        elif type_name and self.entity_type[node] == -1:
            self.entity_type[node] = self.types(type_name)
        return node

    def freeze(self) -> None:
        for interner in (self.entities, self.relations, self.types, self.files):
            interner.freeze()

    # ---- neighbourhoods (the graph read as undirected) ---------------------------------------------------------
    def neighbours(self, node: int) -> tuple[int, ...] | list[int]:
        cached = self._hub_neighbours.get(node)
        if cached is not None:
            return cached
        succ, pred = self._succ[node], self._pred[node]
        found = list(succ) + [m for m in pred if m not in succ]
        if len(found) > HUB_DEGREE:
            self._hub_neighbours[node] = tuple(found)
        return found

    def triples_between(self, a: int, b: int) -> list[int]:
        """Triple ids on the edges a->b and b->a."""
        out: list[int] = []
        for edge in (self._succ[a].get(b), self._pred[a].get(b)):
            if edge is not None:
                out.extend(edge["t"] if isinstance(edge["t"], list) else [edge["t"]])
        return out

    def seed_nodes(self, strategy: StrategyBase) -> list[int]:
        wanted = {self.types.names.index(t) for t in strategy.seed_types or [] if t in self.types.names}
        nodes = []
        for node in range(len(self.entities.names)):
            if node not in self._succ:
                continue
            if strategy.seeds == "heads" and not self._succ[node]:
                continue
            if strategy.seed_types is not None and self.entity_type[node] not in wanted:
                continue
            nodes.append(node)
        return nodes
