"""The end-of-run summary: label distribution, unlabeled and quarantined counts by reason, parse failures, where
the labels came from (stated by the reasoning vs the answer request, disagreements), free-text steps cut at
max_tokens or looping, cache hits, agreement between strategies, throughput and the degenerate-run warnings.
Printed, and written into the manifest and the card."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from corpusforge.label.degenerate import degenerate_warnings
from corpusforge.label.runner import RunCounters

ANSWER_FIELDS = ("stated", "constrained", "disagreements", "generations", "truncated", "repetition_loops")


@dataclass
class SummaryBuilder:
    """Fed every record as it is written, so the summary never needs the records in memory."""

    options: list[str]
    strategies: list[str]
    labels: Counter = field(default_factory=Counter)
    unlabeled: Counter = field(default_factory=Counter)
    per_strategy: dict[str, Counter] = field(default_factory=dict)
    parse_failures: Counter = field(default_factory=Counter)
    agreement_histogram: Counter = field(default_factory=Counter)
    agreement_sum: float = 0.0
    agreement_n: int = 0
    confidence_sum: float = 0.0
    confidence_n: int = 0
    quarantined: Counter = field(default_factory=Counter)
    answers: dict[str, Counter] = field(default_factory=dict)  # strategy -> ANSWER_FIELDS counts

    def add(self, record: dict[str, Any]) -> None:
        if record["label"] is None:
            self.unlabeled[record["unlabeled_reason"]] += 1
        else:
            self.labels[record["label"]] += 1
        if record["agreement"] is not None:
            self.agreement_sum += record["agreement"]
            self.agreement_n += 1
            self.agreement_histogram[f"{record['agreement']:.2f}"] += 1
        if record["confidence"] is not None:
            self.confidence_sum += record["confidence"]
            self.confidence_n += 1
        for member in record["strategies"]:
            counts = self.per_strategy.setdefault(member["strategy"], Counter())
            counts[member["label"] if member["label"] is not None else "unlabeled"] += 1
            self.parse_failures[member["strategy"]] += member["parse_failures"]
            answers = self.answers.setdefault(member["strategy"], Counter())
            # .get: records of shards written before these fields existed still merge
            answers["stated"] += member.get("stated_label") is not None
            answers["constrained"] += member.get("constrained_label") is not None
            answers["disagreements"] += bool(member.get("disagreement"))
            for name in ("generations", "truncated", "repetition_loops"):
                answers[name] += member.get(name) or 0

    def quarantine(self, reason: str) -> None:
        self.quarantined[reason] += 1

    def build(self, counters: RunCounters, label_seconds: float, load_seconds: float) -> dict[str, Any]:
        labeled = sum(self.labels.values())
        unlabeled = sum(self.unlabeled.values())
        quarantined = sum(self.quarantined.values())
        summary = {
            "input_records": labeled + unlabeled + quarantined,
            "labeled": labeled,
            "unlabeled": unlabeled,
            "quarantined": quarantined,
            "label_distribution": {o: self.labels.get(o, 0) for o in self.options},
            "unlabeled_by_reason": dict(sorted(self.unlabeled.items())),
            "quarantined_by_reason": dict(sorted(self.quarantined.items())),
            "per_strategy": {
                s: {
                    **{o: self.per_strategy.get(s, Counter()).get(o, 0) for o in self.options},
                    "unlabeled": self.per_strategy.get(s, Counter()).get("unlabeled", 0),
                }
                for s in self.strategies
            },
            "parse_failures": {s: self.parse_failures.get(s, 0) for s in self.strategies},
            "answers": {
                s: {name: self.answers.get(s, Counter()).get(name, 0) for name in ANSWER_FIELDS}
                for s in self.strategies
            },
            "agreement_mean": self.agreement_sum / self.agreement_n if self.agreement_n else None,
            "agreement_histogram": dict(sorted(self.agreement_histogram.items())),
            "confidence_mean": self.confidence_sum / self.confidence_n if self.confidence_n else None,
            "requests": {
                "total": counters.requests,
                "cache_hits": counters.cache_hits,
                "sent_to_backend": counters.sent,
                "deduplicated": counters.deduplicated,
                "errors": dict(counters.errors),
                "waves": counters.waves,
            },
            "tokens": {
                "prompt": counters.prompt_tokens,
                "prompt_from_prefix_cache": counters.cached_prompt_tokens,
                "prompt_computed": counters.computed_prompt_tokens,
                "completion": counters.completion_tokens,
            },
            "seconds": {"load": round(load_seconds, 3), "label": round(label_seconds, 3)},
            "items_per_second": round(counters.items / label_seconds, 3) if label_seconds > 0 else None,
        }
        summary["warnings"] = degenerate_warnings(summary)
        return summary


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The summary as short lines of text (the CLI prints them; the card shows them)."""
    dist = ", ".join(f"{k} {v}" for k, v in summary["label_distribution"].items())
    lines = [
        f"input records: {summary['input_records']} = {summary['labeled']} labeled + {summary['unlabeled']} "
        f"unlabeled + {summary['quarantined']} quarantined",
        f"labels: {dist}",
    ]
    if summary["unlabeled_by_reason"]:
        lines.append(
            "unlabeled by reason: " + ", ".join(f"{k} {v}" for k, v in summary["unlabeled_by_reason"].items())
        )
    if summary["quarantined_by_reason"]:
        lines.append(
            "quarantined by reason: " + ", ".join(f"{k} {v}" for k, v in summary["quarantined_by_reason"].items())
        )
    failures = ", ".join(f"{k} {v}" for k, v in summary["parse_failures"].items())
    lines.append(f"answers that did not parse (retried under constraint or left unlabeled): {failures}")
    for name, a in summary.get("answers", {}).items():
        if a["generations"]:
            lines.append(
                f"  {name}: answer stated by the reasoning {a['stated']}, by the answer request {a['constrained']}, "
                f"disagreements {a['disagreements']}; free-text generations {a['generations']}, cut at max_tokens "
                f"{a['truncated']}, repetition loops {a['repetition_loops']}"
            )
    if len(summary["per_strategy"]) > 1:
        for name, counts in summary["per_strategy"].items():
            lines.append(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if summary["agreement_mean"] is not None:
            lines.append(f"agreement between strategies: mean {summary['agreement_mean']:.3f}")
    r, t = summary["requests"], summary["tokens"]
    lines.append(
        f"requests: {r['total']} ({r['cache_hits']} from the label cache, {r['sent_to_backend']} sent to the backend)"
    )
    lines.append(
        f"prompt tokens: {t['prompt']} ({t['prompt_from_prefix_cache']} from the prefix cache, "
        f"{t['prompt_computed']} computed); completion tokens: {t['completion']}"
    )
    for warning in summary.get("warnings", []):
        lines.append(f"WARNING: {warning}")
    rate = summary["items_per_second"]
    lines.append(
        f"time: load {summary['seconds']['load']:.1f} s, labelling {summary['seconds']['label']:.1f} s"
        + (f" ({rate:.2f} items/s)" if rate is not None else "")
    )
    return lines
