"""Per-source accounting from datatrove's per-task stats: where every input record went.

For each source, documents flow through segments. The first segment counts the reader's records; a step that
changes the number of documents (a book into chunks, triples into subgraphs) closes a segment and opens the next,
in its own unit. In every segment:

    in = out + dropped (by reason)  [+ quarantined, in the first segment]

and the last segment's `out` is what the source keeps. Drops after the sources are merged (deduplication) are
attributed per source by the counters placed around them. `balanced` is checked, not assumed.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpusforge.builder.plan import BuildPlan, Stage

ACCOUNTING_KEYS = {"records", "documents", "total", "forwarded", "dropped", "documents_in", "documents_out",
                   "expanded", "doc_len", "doc_len_tokens", "input_files", "quarantined", "changed"}  # fmt: skip


def _total(value: Any) -> float:
    if isinstance(value, dict):
        return value.get("total", 0)
    return value or 0


def read_stage_stats(logs_dir: Path) -> list[dict[str, float]]:
    """Sum each step's stats over every finished task of a stage (from stats/<rank>.json, resume-proof)."""
    per_step: list[Counter] = []
    for path in sorted((logs_dir / "stats").glob("*.json")):
        steps = json.loads(path.read_text())
        while len(per_step) < len(steps):
            per_step.append(Counter())
        for counter, step in zip(per_step, steps):
            for key, value in step.get("stats", {}).items():
                counter[key] += _total(value)
    return [dict(c) for c in per_step]


def _reasons(stats: dict[str, float], default: str) -> dict[str, int]:
    """`dropped_<reason>` counts; drops with no reason are attributed to the step itself."""
    reasons = {k.removeprefix("dropped_"): int(v) for k, v in stats.items() if k.startswith("dropped_") and v}
    unexplained = int(stats.get("dropped", 0)) - sum(reasons.values())
    if unexplained > 0:
        reasons[default] = reasons.get(default, 0) + unexplained
    return reasons


@dataclass
class Segment:
    unit: str
    input: int
    dropped: dict[str, int] = field(default_factory=dict)
    output: int = 0
    quarantined: int = 0

    @property
    def balanced(self) -> bool:
        return self.input == self.output + sum(self.dropped.values()) + self.quarantined

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "input": self.input,
            "quarantined": self.quarantined,
            "dropped": dict(sorted(self.dropped.items())),
            "output": self.output,
            "balanced": self.balanced,
        }


@dataclass
class SourceAccount:
    source: str
    segments: list[Segment]
    quarantined_by_reason: dict[str, int]
    details: dict[str, dict[str, float]]
    rows: int = 0  # rows written: the kept records, or their copies once a mixture weights them
    decontamination: dict[str, dict[str, int]] = field(default_factory=dict)  # decontam step -> {reason: n}
    stripping: dict[str, Any] | None = None  # books.strip_nontext: characters kept and stripped, by kind
    coverage: dict[str, Any] | None = None  # kg.subgraphs: triples covered, self-loops, template fallbacks
    # files (or the rest of files) that could not be cut into records: outside the record balance, never hidden
    files_quarantined_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def files_quarantined(self) -> int:
        return sum(self.files_quarantined_by_reason.values())

    @property
    def input(self) -> int:
        return self.segments[0].input

    @property
    def kept(self) -> int:
        return self.segments[-1].output

    @property
    def quarantined(self) -> int:
        return sum(seg.quarantined for seg in self.segments)

    @property
    def dropped(self) -> dict[str, int]:
        total: Counter = Counter()
        for seg in self.segments:
            total.update(seg.dropped)
        return dict(sorted(total.items()))

    @property
    def balanced(self) -> bool:
        return all(seg.balanced for seg in self.segments)

    def balance_line(self) -> str:
        parts = []
        for i, seg in enumerate(self.segments):
            dropped = sum(seg.dropped.values())
            terms = [f"{seg.output} {'kept' if i == len(self.segments) - 1 else 'expanded'}", f"{dropped} dropped"]
            if i == 0 or seg.quarantined:
                terms.append(f"{seg.quarantined} quarantined")
            mark = "ok" if seg.balanced else "MISMATCH"
            parts.append(f"{seg.input} {seg.unit} = " + " + ".join(terms) + f" [{mark}]")
        return " -> ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "kept": self.kept,
            "dropped": self.dropped,
            "quarantined": self.quarantined,
            "quarantined_by_reason": dict(sorted(self.quarantined_by_reason.items())),
            "files_quarantined": self.files_quarantined,
            "files_quarantined_by_reason": dict(sorted(self.files_quarantined_by_reason.items())),
            "balanced": self.balanced,
            "balance": self.balance_line(),
            "rows": self.rows,
            "segments": [seg.to_dict() for seg in self.segments],
            "details": self.details,
            **({"decontamination": self.decontamination} if self.decontamination else {}),
            **({"book_stripping": self.stripping} if self.stripping else {}),
            **({"kg_coverage": self.coverage} if self.coverage else {}),
        }


def account_source(stage: Stage, stats: list[dict[str, float]], merged: dict[str, dict[str, float]]) -> SourceAccount:
    """Walk one source's stage step by step, then apply the cross-source counters of the write stage."""
    source = stage.source
    assert source is not None
    stats = stats + [{}] * (len(stage.steps) - len(stats))
    reader = stats[0]
    first = Segment(
        unit=stage.steps[0].unit or "records",
        input=int(reader.get("records", 0)),
        quarantined=int(reader.get("quarantined", 0)),
    )
    first.dropped = _reasons(reader, default=stage.steps[0].name)
    quarantined_by_reason: Counter = Counter()
    files_quarantined = {
        k.removeprefix("files_quarantined_"): int(v)
        for k, v in reader.items()
        if k.startswith("files_quarantined_") and v
    }
    segments = [first]
    details: dict[str, dict[str, float]] = {}
    decontamination: dict[str, dict[str, int]] = {}
    written = 0
    for info, step_stats in zip(stage.steps, stats):
        # the reader quarantines malformed records; a step may quarantine a whole input it cannot use safely
        # (books.strip_nontext: a book it would mostly remove), counted in the segment it runs in
        quarantined_by_reason.update(
            {k.removeprefix("quarantined_"): int(v) for k, v in step_stats.items() if k.startswith("quarantined_")}
        )
        if info.role in ("filter", "step", "expand"):
            segments[-1].quarantined += int(step_stats.get("quarantined", 0))
        if info.name.startswith("decontam."):
            decontamination[_key(info.name, decontamination)] = _reasons(step_stats, info.name)
        extra = {
            k: v
            for k, v in step_stats.items()
            if k not in ACCOUNTING_KEYS
            and not k.startswith(("dropped", "quarantined", "files_quarantined", "source_out/"))
        }
        if extra and info.role not in ("count", "write"):
            details[_key(info.name, details)] = extra
        if info.role == "count":
            written = int(step_stats.get(f"source_out/{source}", 0))
        elif info.role == "expand":  # closes the segment; the next one counts this step's output documents
            segments[-1].dropped = _merge(segments[-1].dropped, _reasons(step_stats, info.name))
            segments[-1].output = int(step_stats.get("expanded", 0))
            segments.append(Segment(unit=info.unit or "documents", input=int(step_stats.get("documents_out", 0))))
        elif info.role in ("filter", "step"):  # a 1:1 step may also drop, with counted reasons
            segments[-1].dropped = _merge(segments[-1].dropped, _reasons(step_stats, info.name))

    last = segments[-1]
    counts = {checkpoint: int(values.get(source, 0)) for checkpoint, values in merged.items()}
    if counts:
        # drops by deduplication, attributed by the per-source counters around each dedup filter; counting from
        # `merged` (not `written`) means documents lost between stages show up as an imbalance, not as a reason
        previous = counts.get("merged", 0)
        for checkpoint, reason in (("after_exact_dedup", "exact_duplicate"), ("after_near_dedup", "near_duplicate")):
            if checkpoint in counts:
                if previous - counts[checkpoint]:
                    last.dropped[reason] = last.dropped.get(reason, 0) + previous - counts[checkpoint]
                previous = counts[checkpoint]
        last.output = counts.get("kept", 0)
        # an instruct build's mixture drops records too (over_cap, downsampled); kept = records with >= 1 row
        for checkpoint, n in counts.items():
            if checkpoint.startswith("mix_dropped_") and n:
                reason = checkpoint.removeprefix("mix_dropped_")
                last.dropped[reason] = last.dropped.get(reason, 0) + n
                last.output -= n
    else:
        last.output = written
    account = SourceAccount(source, segments, {k: v for k, v in quarantined_by_reason.items() if v}, details)
    account.decontamination = decontamination
    account.stripping = book_stripping(details)
    account.coverage = kg_coverage(details)
    account.files_quarantined_by_reason = files_quarantined
    account.rows = counts.get("mix_out", account.kept) if counts else account.kept
    return account


def _key(name: str, taken: dict) -> str:
    """A step's key in the manifest: its type, then "type #2", "type #3" for later steps of the same type in one
    source (two llm.generate steps each keep their own counts)."""
    key, n = name, 1
    while key in taken:
        n += 1
        key = f"{name} #{n}"
    return key


def book_stripping(details: dict[str, dict[str, float]]) -> dict[str, Any] | None:
    """What books.strip_nontext kept and removed, in characters, from its summed stats.

    `share_of_chars_kept` counts a quarantined book's characters as not kept; `chars_stripped_by_kind` adds up to
    `chars_in - chars_out` (its `layout` entry is whitespace, line endings and joined hyphenation).
    """
    stats = details.get("books.strip_nontext")
    if not stats or "chars_in" not in stats:
        return None
    chars_in, chars_out = int(stats.get("chars_in", 0)), int(stats.get("chars_out", 0))
    quarantined = int(stats.get("chars_in_quarantined", 0))
    by_kind = {
        k.removeprefix("chars_stripped_"): int(v)
        for k, v in sorted(stats.items(), key=lambda kv: -kv[1])
        if k.startswith("chars_stripped_") and v
    }
    return {
        "chars_in": chars_in + quarantined,
        "chars_out": chars_out,
        "chars_in_quarantined_books": quarantined,
        "share_of_chars_kept": round(chars_out / (chars_in + quarantined), 4) if chars_in + quarantined else None,
        "chars_stripped_by_kind": by_kind,
        "times_stripped_by_kind": {
            k.removeprefix("stripped_"): int(v)
            for k, v in sorted(stats.items())
            if k.startswith("stripped_") and not k.endswith("_lines") and v
        },
    }


def kg_coverage(details: dict[str, dict[str, float]]) -> dict[str, Any] | None:
    """How much of a knowledge graph the subgraphs cover, and which relations had no template (kg.subgraphs)."""
    stats = details.get("kg.subgraphs")
    if not stats or "triples_in" not in stats:
        return None
    triples, covered = int(stats.get("triples_in", 0)), int(stats.get("triples_covered", 0))
    return {
        "triples_in_graph": triples,
        "triples_covered": covered,
        "share_covered": round(covered / triples, 4) if triples else None,
        "subgraphs_by_strategy": {
            k.removeprefix("subgraphs_"): int(v) for k, v in sorted(stats.items()) if k.startswith("subgraphs_")
        },
        "template_fallbacks": {
            k.removeprefix("template_fallback/"): int(v)
            for k, v in sorted(stats.items(), key=lambda kv: (-kv[1], kv[0]))
            if k.startswith("template_fallback/")
        },
    }


def _merge(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


MERGED_CHECKPOINTS = ("merged", "after_exact_dedup", "after_near_dedup", "kept", "mix_out")


def merged_counters(stats: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """{checkpoint: {source: count}} from the write stage's SourceCounters and mixture stats."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for step in stats:
        for key, value in step.items():
            if "/" in key:
                checkpoint, _, source = key.partition("/")
                if checkpoint in MERGED_CHECKPOINTS or checkpoint.startswith("mix_dropped_"):
                    out[checkpoint][source] = out[checkpoint].get(source, 0) + value
    return dict(out)


def account_plan(plan: BuildPlan) -> dict[str, SourceAccount]:
    write_stage = next((s for s in plan.stages if s.name == "write"), None)  # none: sources wrote directly
    merged = merged_counters(read_stage_stats(plan.stage_logs(write_stage))) if write_stage else {}
    accounts = {}
    for stage in plan.stages:
        if stage.source is not None:
            accounts[stage.source] = account_source(stage, read_stage_stats(plan.stage_logs(stage)), merged)
    return accounts
