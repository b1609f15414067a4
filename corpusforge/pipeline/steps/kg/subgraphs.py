"""`kg.subgraphs`, the registered step: a source's triples -> one graph -> sampled subgraphs -> verbalized text.

Accounting (the cardinality contract): every input document is one triple. It ends `expanded` when it is in at
least one subgraph, or dropped as `self_loop` (head and tail are the same entity: "Aspirin is a kind of aspirin"),
`duplicate_triple` (the same head, relation and tail seen before), `not_sampled` (in no subgraph) or
`not_a_triple` (a document without a triple). Stats also give `triples_in`, `triples_covered`,
`subgraphs_<strategy>`, `documents_out` and `template_fallback/<relation>` (triples of a relation that has no
template), which the manifest and card list. Each subgraph document keeps its triples (`triples`: [head, relation,
tail] lists) and `entities` in its metadata, for steps that rewrite subgraphs rather than use the template text,
and the `license` of its triples (`mixed`, with the list in `licenses`, when they come from differently licensed
files).
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.logging import logger
from pydantic import Field, model_validator

from corpusforge.errors import BuildError
from corpusforge.pipeline.licenses import MIXED, UNKNOWN
from corpusforge.pipeline.registry import BuildContext, StepParams, register
from corpusforge.pipeline.steps.kg.graph import TripleGraph
from corpusforge.pipeline.steps.kg.sampling import SAMPLERS, cover_parts, seed_sequence
from corpusforge.pipeline.steps.kg.strategies import (
    DEFAULT_STRATEGIES,
    CoverStrategy,
    Strategy,
    StrategyBase,
    strategy_names,
)
from corpusforge.pipeline.steps.kg.templates import (
    CJK_RE,
    RelationTemplates,
    capitalise,
    humanize_relation,
    join_list,
)


@register("kg.subgraphs")
class KGSubgraphs(PipelineStep):
    """Sample knowledge-graph subgraphs at several scales and verbalize them through relation templates."""

    type = "🕸️ - GRAPH"
    changes_cardinality = True
    requires_single_task = True
    output_unit = "subgraphs"

    class Params(StepParams):
        strategies: list[Strategy] = Field(default_factory=lambda: list(DEFAULT_STRATEGIES), min_length=1)
        templates: dict[str, str] = {}  # relation -> template; added to / overriding kg_templates.yaml
        # relation -> template used when the entities are Chinese (overriding kg_templates.yaml's relations_zh)
        templates_zh: dict[str, str] = {}
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
        templates = RelationTemplates.build(
            params.templates, params.templates_path, params.fallback, params.templates_zh
        )
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
        # (relation id, Chinese entities?) -> template: relation ids are per graph, reset by run()
        self._relation_cache: dict[tuple[int, bool], tuple[str, bool, str]] = {}
        self._file_licenses: dict[str, set[str]] = {}  # input file -> the licences of its triples

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
            file = str(provenance.get("file", ""))
            self._file_licenses.setdefault(file, set()).add(doc.metadata.get("license") or UNKNOWN)
            if not g.add(triple, file, int(provenance.get("line") or 0)):
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
        per_relation: Counter = Counter()
        for tid in range(len(g)):
            per_relation[g.relation[tid], self.chinese_entities(g, g.head[tid], [g.tail[tid]])] += 1
        missing: Counter = Counter()
        for (r, chinese), n in per_relation.most_common():
            if not self.templates.has_template(g.relations.names[r], chinese):
                missing[g.relations.names[r] + (" (Chinese text)" if chinese else "")] += n
        missing = dict(missing.most_common())
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
                template, chinese, relation = self.relation_template(g, rel, self.chinese_entities(g, head, tails))
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

    @staticmethod
    def chinese_entities(g: TripleGraph, head: int, tails: list[int]) -> bool:
        """Whether a head and its tails are named in Chinese (then relations are worded in Chinese)."""
        return bool(CJK_RE.search(g.entities.names[head])) or any(CJK_RE.search(g.entities.names[t]) for t in tails)

    def relation_template(self, g: TripleGraph, rel: int, chinese_entities: bool = False) -> tuple[str, bool, str]:
        """(template, written in Chinese?, relation as shown in text) of a relation id for entities in Chinese or
        not, looked up once per run."""
        key = (rel, chinese_entities)
        found = self._relation_cache.get(key)
        if found is None:
            relation = g.relations.names[rel]
            template = self.templates.template(relation, chinese_entities)
            chinese = bool(CJK_RE.search(template))
            shown = relation if chinese or CJK_RE.search(relation) else humanize_relation(relation)
            found = self._relation_cache[key] = (template, chinese, shown)
        return found

    def subgraph_document(
        self, g: TripleGraph, ids: list[int], label: str, n: int, seed: int, first: dict
    ) -> Document:
        files = list(dict.fromkeys(g.files.names[g.file[t]] for t in ids))
        source = first.get("source") or self.source or "kg"
        licenses = sorted({lic for f in files for lic in self._file_licenses.get(f, {UNKNOWN})})
        return Document(
            text=self.verbalize(g, ids),
            id=f"{source}:{label}/{n}",
            metadata={
                "source": source,
                "license": licenses[0] if len(licenses) == 1 else MIXED,
                **({"licenses": licenses} if len(licenses) > 1 else {}),
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
        self._file_licenses = {}
        with self.track_time():
            g, first = self.load(data)
        self._relation_cache = {}
        covered = bytearray(len(g))
        for index, (strategy, label) in enumerate(zip(self.strategies, self.names)):
            rng = random.Random(f"{self.seed}/{index}/{label}")
            made = 0
            for seed, ids in self.sampled(g, strategy, rng, covered):
                with self.track_time():
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

    @staticmethod
    def sampled(g: TripleGraph, strategy: StrategyBase, rng: random.Random, covered: bytearray):
        """(seed, triple ids) of each subgraph a strategy makes (an ego graph split at a hub gives several)."""
        if isinstance(strategy, CoverStrategy):
            yield from cover_parts(g, covered, strategy)
            return
        sampler = SAMPLERS[strategy.kind]
        for seed in seed_sequence(g.seed_nodes(strategy), strategy.count, rng):
            for ids in sampler(g, seed, strategy, rng):
                yield seed, ids


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
