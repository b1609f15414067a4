"""`kg.subgraphs`: knowledge-graph triples -> sampled subgraphs -> natural-language training text.

The AntGLM-Med paper notes that a model learns poorly from raw triples, so it "samples sub-graphs of different
scales and rewrites them into natural language texts". This step collects every triple of the source into one
networkx graph, samples subgraphs with the strategies the recipe lists, and verbalizes each through relation
templates (kg_templates.yaml next to this file, extended or overridden by the recipe).

Memory: entity, relation, type and file names are stored once (interned into lists); the graph's nodes are
integer entity ids and each edge carries one compact attribute, the id (or list of ids) of its triple(s); a
triple's relation, head, tail and line live in `array`s. 1M triples stay well under 2 GB (bench/bench_kg.py).

Accounting (the cardinality contract): every input document is one triple. It ends `expanded` when it is in at
least one subgraph, or dropped as `self_loop` (head and tail are the same entity: "Aspirin is a kind of aspirin"),
`duplicate_triple` (the same head, relation and tail seen before), `not_sampled` (in no subgraph) or
`not_a_triple` (a document without a triple). Stats also give `triples_in`, `triples_covered`,
`subgraphs_<strategy>`, `documents_out` and `template_fallback/<relation>` (triples of a relation that has no
template), which the manifest and card list. Each subgraph document keeps its triples (`triples`: [head, relation,
tail] lists) and `entities` in its metadata, for steps that rewrite subgraphs rather than use the template text.
"""

from __future__ import annotations

import random
import re
import string
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.logging import logger
from pydantic import Field, model_validator

from corpusforge.config import StrictModel
from corpusforge.errors import BuildError, ConfigError
from corpusforge.pipeline.registry import BuildContext, StepParams, register

# ---------------------------------------------------------------------------------------------------------------
# Recipe parameters: sampling strategies
# ---------------------------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------------------------
# Relation templates
# ---------------------------------------------------------------------------------------------------------------
PLACEHOLDERS = {"head", "relation", "tail", "head_type", "tail_type"}
CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
EN_VERB_FIRST = {"is", "are", "was", "has", "have", "may", "can", "could", "should", "does", "will", "might"}
EN_PREPOSITIONS = {"by", "of", "with", "to", "in", "for", "from", "on", "into", "against", "at", "as"}


def normalise_relation(relation: str) -> str:
    return re.sub(r"[\s\-]+", "_", relation.strip()).casefold()


def template_fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def load_template_file(path: str | Path | None = None) -> dict[str, Any]:
    """The shipped defaults (path None) or a user's templates file in the same format."""
    if path is None:
        text = resources.files("corpusforge.pipeline.steps").joinpath("kg_templates.yaml").read_text("utf-8")
        where = "kg_templates.yaml"
    else:
        if not Path(path).is_file():
            raise ConfigError(f"kg.subgraphs.templates_path: {path}: file not found")
        text = Path(path).read_text(encoding="utf-8")
        where = str(path)
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict) or not set(data) <= {"relations", "fallback"}:
        raise ConfigError(f"{where}: expected a mapping with `relations:` and optionally `fallback:`")
    return data


@dataclass
class RelationTemplates:
    """Relation name -> sentence template, with fallbacks by script; checked when the step is built."""

    relations: dict[str, str]
    fallback: dict[str, str]

    @classmethod
    def build(
        cls, overrides: dict[str, str], templates_path: str | None, fallback: dict[str, str] | None
    ) -> RelationTemplates:
        base = load_template_file()
        relations = dict(base.get("relations") or {})
        fallbacks = dict(base.get("fallback") or {})
        if templates_path:
            extra = load_template_file(templates_path)
            relations.update(extra.get("relations") or {})
            fallbacks.update(extra.get("fallback") or {})
        relations.update(overrides)
        fallbacks.update(fallback or {})
        problems = []
        for key, template in [*(("templates." + k, v) for k, v in relations.items()),
                              *(("fallback." + k, v) for k, v in fallbacks.items())]:  # fmt: skip
            try:
                unknown = template_fields(str(template)) - PLACEHOLDERS
            except ValueError as e:
                problems.append(f"kg.subgraphs.{key}: not a valid template ({e})")
                continue
            if unknown:
                problems.append(
                    f"kg.subgraphs.{key}: unknown placeholder {{{sorted(unknown)[0]}}}; "
                    f"use {', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}"
                )
        missing = {"en", "en_verb", "zh"} - set(fallbacks)
        if missing:
            problems.append(f"kg.subgraphs.fallback: missing {sorted(missing)} (en, en_verb and zh are needed)")
        if problems:
            raise ConfigError(problems)
        normalised = {normalise_relation(k): str(v) for k, v in relations.items()}
        return cls(relations={**normalised, **{k: str(v) for k, v in relations.items()}}, fallback=fallbacks)

    def has_template(self, relation: str) -> bool:
        return bool(self.relations.get(relation) or self.relations.get(normalise_relation(relation)))

    def template(self, relation: str) -> str:
        found = self.relations.get(relation) or self.relations.get(normalise_relation(relation))
        if found:
            return found
        if CJK_RE.search(relation):
            return self.fallback["zh"]
        words = normalise_relation(relation).split("_")
        verb_like = words[0] in EN_VERB_FIRST or (len(words) > 1 and words[-1] in EN_PREPOSITIONS)
        return self.fallback["en_verb" if verb_like else "en"]


def humanize_relation(relation: str) -> str:
    """A relation name as words: `has_symptom` / `hasSymptom` / `has-symptom` -> `has symptom`; codes and
    acronyms (`DM`, `NOT`, `ATC`) and Chinese names stay as they are."""
    if CJK_RE.search(relation):
        return relation
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", relation.strip())
    words = re.sub(r"[\s_\-]+", " ", words).strip()
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words.split(" "))


def join_list(items: list[str], chinese: bool) -> str:
    if len(items) == 1:
        return items[0]
    if chinese:
        return "、".join(items[:-1]) + "和" + items[-1]
    return ", ".join(items[:-1]) + " and " + items[-1]


def capitalise(sentence: str) -> str:
    """Upper-case the first letter when the first word is plain lower case (leaves `mRNA`, `pH` alone)."""
    first = sentence.split(" ", 1)[0]
    if first.isalpha() and first.isascii() and first.islower():
        return sentence[0].upper() + sentence[1:]
    return sentence


# ---------------------------------------------------------------------------------------------------------------
# The graph
# ---------------------------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------------------------
# The step
# ---------------------------------------------------------------------------------------------------------------
@register("kg.subgraphs")
class KGSubgraphs(PipelineStep):
    """Sample knowledge-graph subgraphs at several scales and verbalize them through relation templates."""

    name = "kg.subgraphs"
    type = "🕸️ - GRAPH"
    changes_cardinality = True
    requires_single_task = True
    output_unit = "subgraphs"

    class Params(StepParams):
        type: Literal["kg.subgraphs"] = "kg.subgraphs"
        strategies: list[Strategy] = Field(default_factory=lambda: list(DEFAULT_STRATEGIES), min_length=1)
        templates: dict[str, str] = {}  # relation -> template; added to / overriding kg_templates.yaml
        templates_path: str | None = None  # a YAML file in the format of kg_templates.yaml
        fallback: dict[str, str] | None = None  # override the generic templates (keys en, en_verb, zh)
        seed: int | None = None  # default: the recipe's seed
        # true: a relation with no template (only the generic fallback) stops the build, naming the relations
        strict_templates: bool = False

        @model_validator(mode="after")
        def _unique_names(self):
            names = strategy_names(self.strategies)
            if len(set(names)) != len(names):
                raise ValueError(f"strategies: names must be unique, got {names}")
            return self

    @classmethod
    def from_params(cls, params: Params, ctx: BuildContext) -> KGSubgraphs:
        templates = RelationTemplates.build(params.templates, params.templates_path, params.fallback)
        return cls(
            strategies=params.strategies,
            templates=templates,
            seed=params.seed if params.seed is not None else ctx.seed,
            source=ctx.source,
            strict_templates=params.strict_templates,
        )

    def __init__(
        self,
        strategies: list[StrategyBase] | None = None,
        templates: RelationTemplates | None = None,
        seed: int = 0,
        source: str | None = None,
        strict_templates: bool = False,
    ):
        super().__init__()
        self.strict_templates = strict_templates
        self.strategies = list(strategies or DEFAULT_STRATEGIES)
        self.names = strategy_names(self.strategies)
        self.templates = templates or RelationTemplates.build({}, None, None)
        self.seed = seed
        self.source = source
        self._relation_cache: dict[int, tuple[str, bool, str]] = {}  # relation ids are per graph: reset by run()

    # ---- loading ------------------------------------------------------------------------------------------------
    def load(self, data: DocumentsPipeline) -> tuple[TripleGraph, dict[str, Any]]:
        """All triples of the task into the graph, counting each input document."""
        g = TripleGraph()
        first: dict[str, Any] = {}
        counts = {"documents_in": 0, "not_a_triple": 0, "self_loop": 0, "duplicate_triple": 0}  # recorded once
        for doc in data:
            counts["documents_in"] += 1
            triple = doc.metadata.get("triple") or triple_from_text(doc.text)
            if not triple:
                counts["not_a_triple"] += 1
                continue
            if not first:
                first = {
                    "source": doc.metadata.get("source") or self.source,
                    "transforms": doc.metadata.get("transforms"),
                }
            if triple["head"].strip().casefold() == triple["tail"].strip().casefold():
                counts["self_loop"] += 1  # "Aspirin is a kind of aspirin." teaches nothing
                continue
            provenance = doc.metadata.get("provenance") or {}
            if not g.add(triple, str(provenance.get("file", "")), int(provenance.get("line") or 0)):
                counts["duplicate_triple"] += 1
        g.freeze()
        self.stat_update("documents_in", value=counts["documents_in"])
        for reason in ("not_a_triple", "self_loop", "duplicate_triple"):
            if counts[reason]:
                self.stat_update("dropped", f"dropped_{reason}", value=counts[reason])
        self.stat_update("triples_in", value=len(g))
        self.check_templates(g)
        return g, first

    def check_templates(self, g: TripleGraph) -> None:
        """Count the triples of every relation that has no template (`template_fallback/<relation>`, listed in the
        manifest and card); with `strict_templates`, stop instead."""
        per_relation = Counter(g.relation)
        missing = {
            g.relations.names[r]: n
            for r, n in per_relation.most_common()
            if not self.templates.has_template(g.relations.names[r])
        }
        if not missing:
            return
        listed = ", ".join(f"{name!r} ({n} triples)" for name, n in missing.items())
        if self.strict_templates:
            raise BuildError(
                f"kg.subgraphs (source {self.source}): no template for relation(s) {listed}; add them under "
                "`templates:` (e.g. templates: {DM: '{head} is a disease-modifying treatment for {tail}.'}) or set "
                "strict_templates: false to use the generic fallback"
            )
        for name, n in missing.items():
            self.stat_update(f"template_fallback/{name}", value=n)
        logger.warning(f"kg.subgraphs: no template for {listed}: verbalized by the generic fallback")

    # ---- verbalizing -----------------------------------------------------------------------------------------
    def verbalize(self, g: TripleGraph, ids: list[int]) -> str:
        """One paragraph per head entity (in order of appearance); same-relation tails are listed together."""
        by_head: dict[int, dict[int, list[int]]] = {}
        for tid in ids:
            tails = by_head.setdefault(g.head[tid], {}).setdefault(g.relation[tid], [])
            if g.tail[tid] not in tails:
                tails.append(g.tail[tid])
        paragraphs = []
        for head, relations in by_head.items():
            sentences = []
            for rel, tails in relations.items():
                template, chinese, relation = self.relation_template(g, rel)
                values = {
                    "head": g.entities.names[head],
                    "relation": relation,
                    "tail": join_list([g.entities.names[t] for t in tails], chinese),
                    "head_type": type_name(g, head),
                    "tail_type": type_name(g, tails[0]),
                }
                sentence = template.format(**values)
                sentences.append((sentence if chinese else capitalise(sentence), chinese))
            text = ""
            for sentence, chinese in sentences:
                text += sentence if not text or chinese else " " + sentence
            paragraphs.append(text)
        return "\n".join(paragraphs)

    def relation_template(self, g: TripleGraph, rel: int) -> tuple[str, bool, str]:
        """(template, written in Chinese?, relation as shown in text) of a relation id, looked up once per run."""
        found = self._relation_cache.get(rel)
        if found is None:
            relation = g.relations.names[rel]
            template = self.templates.template(relation)
            chinese = bool(CJK_RE.search(template))
            shown = relation if chinese or CJK_RE.search(relation) else humanize_relation(relation)
            found = self._relation_cache[rel] = (template, chinese, shown)
        return found

    def subgraph_document(
        self, g: TripleGraph, ids: list[int], label: str, n: int, seed: int, first: dict
    ) -> Document:
        files = list(dict.fromkeys(g.files.names[g.file[t]] for t in ids))
        source = first.get("source") or self.source or "kg"
        return Document(
            text=self.verbalize(g, ids),
            id=f"{source}:{label}/{n}",
            metadata={
                "source": source,
                "provenance": triples_provenance(g, ids, files),
                "transforms": list(first.get("transforms") or []) + [self.name],
                "strategy": label,
                "seed_node": g.entities.names[seed],
                "num_triples": len(ids),
                # the subgraph itself, for steps that rewrite it (kg.rewrite) rather than use the template text
                "triples": [
                    [g.entities.names[g.head[t]], g.relations.names[g.relation[t]], g.entities.names[g.tail[t]]]
                    for t in ids
                ],
                "entities": list(dict.fromkeys(g.entities.names[n] for t in ids for n in (g.head[t], g.tail[t]))),
            },
        )

    # ---- running ---------------------------------------------------------------------------------------------
    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if world_size > 1:
            raise BuildError(
                f"kg.subgraphs must see all triples of its source in one task, but runs as task {rank} of "
                f"{world_size}: run this source with tasks=1 (the build does this for requires_single_task steps)"
            )
        if data is None:
            return
        with self.track_time():
            g, first = self.load(data)
        self._relation_cache = {}
        covered = bytearray(len(g))
        for index, (strategy, label) in enumerate(zip(self.strategies, self.names)):
            rng = random.Random(f"{self.seed}/{index}/{label}")
            sampler = SAMPLERS[strategy.kind]
            made = 0
            for seed in seed_sequence(g.seed_nodes(strategy), strategy.count, rng):
                with self.track_time():
                    ids = sampler(g, seed, strategy, rng)
                    if len(ids) < strategy.min_triples:
                        self.stat_update(f"too_small_{label}")
                        continue
                    for tid in ids:
                        covered[tid] = 1
                    doc = self.subgraph_document(g, ids, label, made, seed, first)
                made += 1
                self.stat_update(f"subgraphs_{label}")
                self.stat_update("documents_out")
                self.update_doc_stats(doc)
                yield doc
        n_covered = sum(covered)
        self.stat_update("triples_covered", value=n_covered)
        self.stat_update("expanded", value=n_covered)
        if len(g) - n_covered:
            self.stat_update("dropped", value=len(g) - n_covered)
            self.stat_update("dropped_not_sampled", value=len(g) - n_covered)
        if len(g):
            logger.info(f"kg.subgraphs: {n_covered}/{len(g)} triples covered ({n_covered / len(g):.1%})")


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


def triples_provenance(g: TripleGraph, ids: list[int], files: list[str]) -> dict[str, Any]:
    """{file, lines} of a subgraph's triples; with triples from several files, `file: line` strings instead."""
    if len(files) == 1:
        return {"file": files[0], "lines": [g.line[t] for t in ids]}
    return {"file": "; ".join(files), "triples": [f"{g.files.names[g.file[t]]}:{g.line[t]}" for t in ids]}


def type_name(g: TripleGraph, node: int) -> str:
    t = g.entity_type[node]
    return g.types.names[t] if t >= 0 else ""


def triple_from_text(text: str) -> dict[str, str] | None:
    """A triple from a `head<TAB>relation<TAB>tail` text (documents that did not come from read.kg_triples)."""
    parts = [p.strip() for p in text.split("\t")]
    if len(parts) != 3 or not all(parts):
        return None
    return dict(zip(("head", "relation", "tail"), parts))
