"""Mixing: deterministic under a seed and independent of order and task count; caps exact; weights; splits."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from datatrove.data import Document

from corpusforge.instruct.mixing import BottomK, Mixer, MixSpec, MixtureReport, assign_split, cap_key, mix_records
from corpusforge.instruct.steps import MixApply, MixScan


def record(source: str, i: int) -> dict:
    return {"id": f"{source}:{i}", "source": source, "meta": None}


def inputs(n: int, source: str, preset: str | None = None):
    return lambda: [(record(source, i), preset) for i in range(n)]


SPEC = MixSpec.model_validate(
    {
        "seed": 3,
        "splits": {"validation": 0.1},
        "sources": {"big": {"cap": 100, "weight": 0.5}, "small": {"weight": 2.5}},
    }
)


def run_mix(spec: MixSpec, sources) -> tuple[list[tuple[str, dict]], MixtureReport]:
    out, report = mix_records(sources, spec)
    return list(out), report


def test_caps_weights_splits_and_report():
    out, report = run_mix(
        SPEC, {"big": inputs(1000, "big"), "small": inputs(40, "small"), "test": inputs(5, "t", "test")}
    )
    counts = report.to_dict()
    assert counts["big"]["input"] == 1000 and counts["big"]["after_cap"] == 100  # exactly the cap
    assert 30 <= counts["big"]["after_weight"] <= 70  # weight 0.5 keeps about half of the capped 100
    small = [r for split, r in out if r["source"] == "small" and split == "train"]
    copies = Counter(r["id"].split("#")[0] for r in small)
    assert set(copies.values()) <= {2, 3} and 2.2 < sum(copies.values()) / len(copies) < 2.8
    assert all(json.loads(r["meta"])["repeat"] >= 1 for r in small if "#r" in r["id"])
    assert len({r["id"] for _, r in out}) == len(out)  # repeats get distinct ids
    assert counts["test"] == {"input": 5, "after_cap": 5, "after_weight": 5, "splits": {"test": 5}, "dropped": {}}
    assert counts["big"]["dropped"]["over_cap"] == 900
    assert report.sources["big"].kept == 100 - counts["big"]["dropped"]["downsampled"]
    assert sum(sum(c["splits"].values()) for c in counts.values()) == len(out)
    table = report.to_markdown(SPEC)
    assert (
        table.splitlines()[0]
        == "| source | weight | cap | in | after cap | after weighting | train | validation | test |"
    )


def test_repeats_never_straddle_splits_and_validation_is_not_repeated():
    out, _ = run_mix(SPEC, {"small": inputs(400, "small")})
    split_of: dict[str, set] = {}
    for split, r in out:
        split_of.setdefault(r["id"].split("#")[0], set()).add(split)
    assert all(len(s) == 1 for s in split_of.values())
    validation = [r for split, r in out if split == "validation"]
    assert validation and all("#r" not in r["id"] for r in validation)
    assert 0.05 < len(validation) / 400 < 0.15


def test_same_mixture_whatever_the_input_order_and_the_seed_matters():
    shuffled = [(record("big", i), None) for i in range(1000)]
    random.Random(1).shuffle(shuffled)
    a, _ = run_mix(SPEC, {"big": inputs(1000, "big")})
    b, _ = run_mix(SPEC, {"big": lambda: shuffled})
    assert sorted((s, r["id"]) for s, r in a) == sorted((s, r["id"]) for s, r in b)
    c, _ = run_mix(SPEC.model_copy(update={"seed": 4}), {"big": inputs(1000, "big")})
    assert sorted(r["id"] for _, r in a) != sorted(r["id"] for _, r in c)


def test_bottom_k_merges_exactly_across_tasks():
    keys = [cap_key(0, f"x:{i}") for i in range(500)]
    whole = BottomK(50)
    for k in keys:
        whole.add(k)
    parts = [BottomK(50), BottomK(50), BottomK(50)]
    for i, k in enumerate(keys):
        parts[i % 3].add(k)
    merged = parts[0].merge(parts[1]).merge(parts[2])
    assert merged.threshold() == whole.threshold() == sorted(keys)[49]
    assert BottomK(600).threshold() is None and BottomK(0).threshold() == -1


def test_split_assignment_is_stable_and_presets_are_kept():
    assert assign_split("a:1", {"validation": 0.5}, 7) == assign_split("a:1", {"validation": 0.5}, 7)
    assert {assign_split(f"a:{i}", {"validation": 0.0}) for i in range(50)} == {"train"}
    mixer = Mixer(MixSpec())
    assert mixer.decide("x:1", "s", "validation").copies == [("x:1", "validation", 0)]


def docs(n: int, source: str) -> list[Document]:
    return [Document(text=f"t{i}", id=f"{source}:{i}", metadata={"source": source, "record": record(source, i)})
            for i in range(n)]  # fmt: skip


@pytest.mark.parametrize("tasks", [1, 3])
def test_scan_and_apply_steps_match_the_pure_mixture(tmp_path, tasks):
    all_docs = docs(1000, "big") + docs(40, "small")
    shards = [all_docs[i::tasks] for i in range(tasks)]
    for rank, shard in enumerate(shards):
        assert len(list(MixScan(SPEC, tmp_path / "scan").run(iter(shard), rank, tasks))) == len(shard)
    out, stats = [], Counter()
    for rank, shard in enumerate(shards):
        step = MixApply(SPEC, tmp_path / "scan")
        out += list(step.run(iter(shard), rank, tasks))
        stats.update({k: v.total for k, v in step.stats.stats.items()})
    expected, report = run_mix(SPEC, {"big": inputs(1000, "big"), "small": inputs(40, "small")})
    assert sorted((d.metadata["split"], d.id) for d in out) == sorted((s, r["id"]) for s, r in expected)
    assert all(d.metadata["record"]["id"] == d.id for d in out)
    # the accounting contract of a step that changes the number of documents
    assert stats["documents_in"] == 1040 == stats["expanded"] + stats["dropped"]
    assert stats["documents_out"] == len(out)
    assert stats["dropped"] == stats["dropped_over_cap"] + stats["dropped_downsampled"]
    assert MixtureReport.from_stats(stats).to_dict() == report.to_dict()
