"""Mixing instruction sources: caps, weights (up/down-sampling) and train/validation splits, all decided by hashes.

Every decision about a record is a pure function of (seed, purpose, record id), so a mixture is the same whatever
the order of the input, the number of tasks, or the machine:

- split: `u = hash(seed, "split", id)` in [0, 1); the `splits` fractions are stacked in order
  (`{validation: 0.05}`: u < 0.05 -> validation, else train). A record that already has a split (the official
  PubMedQA test set, PQA-L CV folds) keeps it. Repeats are split with their original, so a record and its copies
  never straddle train and validation.
- cap: a source keeps the `cap` records with the smallest `hash(seed, "cap", id)` (bottom-k: a uniform sample
  without replacement; only the keys are kept in memory, and partial bottom-k sets from several tasks merge
  exactly). Over-cap records are dropped (`over_cap`).
- weight: a record gets `floor(w) + (hash(seed, "weight", id) < frac(w))` copies in train: 2.5 means 2 or 3 copies,
  0.3 keeps about 30%. Records dropped this way are `downsampled`. Validation records are never repeated (at most
  one copy), but downsampling applies to them as to train. Copy r >= 1 gets the id `<id>#r<r>` and `repeat: r`
  in its meta, so ids stay unique.
- records of a split listed in `keep_splits` (default: test) are passed through untouched: never capped, weighted
  or re-split.

The order is cap, then weight, then split; the mixture report counts each source at each point.
"""

from __future__ import annotations

import heapq
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import xxhash
from pydantic import Field

from corpusforge.config import StrictModel
from corpusforge.formats.instruction import record_meta
from corpusforge.output.card import markdown_table

REPEAT_SEPARATOR = "#r"


class SourceMix(StrictModel):
    """How much of one source goes into the mixture."""

    weight: float = Field(1.0, ge=0, description="expected copies per record in train (0.5: half, 3: three times)")
    cap: int | None = Field(None, ge=0, description="at most this many distinct records (before weighting)")


class MixSpec(StrictModel):
    """The mixture of a stage-2/3 build (the `mix:` section of a recipe)."""

    seed: int = 0
    splits: dict[str, float] = Field(default_factory=lambda: {"validation": 0.0})
    keep_splits: list[str] = Field(default_factory=lambda: ["test"])
    sources: dict[str, SourceMix] = Field(default_factory=dict)

    def source(self, name: str) -> SourceMix:
        return self.sources.get(name) or SourceMix()


def unit_hash(seed: int, purpose: str, record_id: str) -> float:
    """A stable number in [0, 1) for (seed, purpose, id); purposes give independent draws."""
    return xxhash.xxh64_intdigest(f"{purpose}\0{record_id}", seed=seed) / 2**64


def cap_key(seed: int, record_id: str) -> int:
    return xxhash.xxh64_intdigest(f"cap\0{record_id}", seed=seed)


def assign_split(record_id: str, splits: Mapping[str, float], seed: int = 0) -> str:
    """`train` unless the record's hash falls into one of the stacked `splits` fractions."""
    u = unit_hash(seed, "split", record_id)
    edge = 0.0
    for name, fraction in splits.items():
        edge += fraction
        if u < edge:
            return name
    return "train"


def copies(record_id: str, weight: float, seed: int = 0) -> int:
    """How many times a record goes into train under `weight` (floor + a hash-decided extra copy)."""
    whole = math.floor(weight)
    return whole + (1 if unit_hash(seed, "weight", record_id) < weight - whole else 0)


def repeat_id(record_id: str, repeat: int) -> str:
    return record_id if repeat == 0 else f"{record_id}{REPEAT_SEPARATOR}{repeat}"


@dataclass
class BottomK:
    """The k smallest cap keys of a source (a max-heap of k ints): the cap threshold, streaming and mergeable."""

    k: int
    _heap: list[int] = field(default_factory=list)

    def add(self, key: int) -> None:
        if self.k == 0:
            return
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, -key)
        elif key < -self._heap[0]:
            heapq.heapreplace(self._heap, -key)

    def merge(self, other: BottomK) -> BottomK:
        for key in other.sorted_keys():
            self.add(key)
        return self

    def sorted_keys(self) -> list[int]:
        return sorted(-k for k in self._heap)

    def threshold(self) -> int | None:
        """Keep records whose key is <= this; None when fewer than k records were seen (keep all)."""
        if self.k == 0:
            return -1
        return -self._heap[0] if len(self._heap) >= self.k else None


@dataclass
class Decision:
    """What happens to one input record: its copies (id, split, repeat), or the reason it was dropped."""

    copies: list[tuple[str, str, int]]
    dropped: str | None = None


@dataclass
class Mixer:
    """Applies a MixSpec to records one at a time, given each capped source's threshold (from BottomK)."""

    spec: MixSpec
    thresholds: dict[str, int | None] = field(default_factory=dict)

    def decide(self, record_id: str, source: str, preset_split: str | None = None) -> Decision:
        if preset_split in self.spec.keep_splits:
            return Decision([(record_id, preset_split, 0)])
        mix = self.spec.source(source)
        seed = self.spec.seed
        if mix.cap is not None:
            threshold = self.thresholds.get(source)
            if threshold is not None and cap_key(seed, record_id) > threshold:
                return Decision([], "over_cap")
        split = preset_split or assign_split(record_id, self.spec.splits, seed)
        n = copies(record_id, mix.weight, seed)
        if split != "train":
            n = min(n, 1)
        if n == 0:
            return Decision([], "downsampled")
        return Decision([(repeat_id(record_id, r), split, r) for r in range(n)])


@dataclass
class SourceMixCounts:
    input: int = 0
    after_cap: int = 0
    after_weight: int = 0
    splits: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)

    @property
    def kept(self) -> int:
        """Input records with at least one copy: input = kept + dropped (over_cap, downsampled)."""
        return self.input - sum(self.dropped.values())


@dataclass
class MixtureReport:
    """Per source: records in, after the cap, after weighting (copies), and per split (copies)."""

    sources: dict[str, SourceMixCounts] = field(default_factory=dict)

    def count(self, source: str, decision: Decision) -> None:
        counts = self.sources.setdefault(source, SourceMixCounts())
        counts.input += 1
        if decision.dropped != "over_cap":
            counts.after_cap += 1
        counts.after_weight += len(decision.copies)
        if decision.dropped:
            counts.dropped[decision.dropped] += 1
        for _, split, _ in decision.copies:
            counts.splits[split] += 1

    def stat_keys(self, source: str, decision: Decision) -> Iterator[str]:
        """The same counts as datatrove stat keys (`mix_in/<source>`...), for reports built from build stats."""
        yield f"mix_in/{source}"
        if decision.dropped != "over_cap":
            yield f"mix_after_cap/{source}"
        if decision.dropped:
            yield f"mix_dropped_{decision.dropped}/{source}"
        for _, split, _ in decision.copies:
            yield f"mix_out/{source}"
            yield f"mix_split_{split}/{source}"

    @classmethod
    def from_stats(cls, stats: Mapping[str, float]) -> MixtureReport:
        report = cls()
        for key, value in stats.items():
            kind, _, source = key.partition("/")
            if not source or not kind.startswith("mix_"):
                continue
            counts = report.sources.setdefault(source, SourceMixCounts())
            if kind == "mix_in":
                counts.input += int(value)
            elif kind == "mix_after_cap":
                counts.after_cap += int(value)
            elif kind == "mix_out":
                counts.after_weight += int(value)
            elif kind.startswith("mix_split_"):
                counts.splits[kind.removeprefix("mix_split_")] += int(value)
            elif kind.startswith("mix_dropped_"):
                counts.dropped[kind.removeprefix("mix_dropped_")] += int(value)
        return report

    @property
    def split_names(self) -> list[str]:
        names = {s for c in self.sources.values() for s in c.splits}
        return sorted(names, key=lambda s: (s != "train", s != "validation", s))

    def to_dict(self) -> dict[str, Any]:
        return {
            name: {
                "input": c.input,
                "after_cap": c.after_cap,
                "after_weight": c.after_weight,
                "splits": dict(c.splits),
                "dropped": dict(c.dropped),
            }
            for name, c in sorted(self.sources.items())
        }

    def to_markdown(self, spec: MixSpec | None = None) -> str:
        splits = self.split_names
        header = ["source", "weight", "cap", "in", "after cap", "after weighting", *splits]
        rows = []
        for name, c in sorted(self.sources.items()):
            mix = spec.source(name) if spec else SourceMix()
            cap = mix.cap if mix.cap is not None else "-"
            rows.append([name, mix.weight, cap, c.input, c.after_cap, c.after_weight, *(c.splits[s] for s in splits)])
        return markdown_table(header, rows)


def cap_thresholds(spec: MixSpec, ids_by_source: Mapping[str, Iterable[str]]) -> dict[str, int | None]:
    """First pass: the cap threshold of every capped source (keys only; test-split records must be left out)."""
    thresholds = {}
    for source, ids in ids_by_source.items():
        cap = spec.source(source).cap
        if cap is None:
            continue
        bottom = BottomK(cap)
        for record_id in ids:
            bottom.add(cap_key(spec.seed, record_id))
        thresholds[source] = bottom.threshold()
    return thresholds


MixInput = tuple[dict[str, Any], str | None]  # (instruction record, preset split or None)


def mix_records(
    sources: Mapping[str, Callable[[], Iterable[MixInput]]], spec: MixSpec
) -> tuple[Iterator[tuple[str, dict[str, Any]]], MixtureReport]:
    """The whole mixture without a pipeline: `sources` maps a name to a function returning its (record, split)
    pairs (called twice when the source is capped: keys first, then records). Yields (split, record) lazily; the
    report is complete once the iterator is exhausted."""
    ids = {
        name: (rec["id"] for rec, split in make() if split not in spec.keep_splits)
        for name, make in sources.items()
        if spec.source(name).cap is not None
    }
    mixer = Mixer(spec, cap_thresholds(spec, ids))
    report = MixtureReport()

    def generate() -> Iterator[tuple[str, dict[str, Any]]]:
        for name, make in sources.items():
            for record, preset in make():
                decision = mixer.decide(record["id"], name, preset)
                report.count(name, decision)
                for copy_id, split, repeat in decision.copies:
                    yield split, repeated(record, copy_id, repeat)

    return generate(), report


def repeated(record: dict[str, Any], copy_id: str, repeat: int) -> dict[str, Any]:
    """The record itself for the first copy; for later copies a copy with the new id and `repeat` in meta."""
    if repeat == 0:
        return record
    meta = record_meta(record)
    meta["repeat"] = repeat
    return {**record, "id": copy_id, "meta": json.dumps(meta, ensure_ascii=False, sort_keys=True)}
