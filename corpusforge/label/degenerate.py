"""Is a label run degenerate? Runs that look healthy by their counts but cannot be trusted: one label for almost
every item (a small model's "yes" bias), no labels at all, many free-text steps cut at max_tokens or looping.
Each finding is a warning in the summary, the manifest, the card and the report; `--strict` fails on them."""

from __future__ import annotations

from typing import Any

ONE_CLASS_SHARE = 0.95  # labels at least this share one class ...
ONE_CLASS_MIN_ITEMS = 10  # ... over at least this many labelled items
TRUNCATED_SHARE = 0.2  # free-text steps cut at max_tokens
LOOP_SHARE = 0.2  # free-text steps ending in a repetition loop
MIN_GENERATIONS = 5


def degenerate_warnings(summary: dict[str, Any]) -> list[str]:
    """One line per finding, naming the counts it rests on."""
    warnings = []
    labeled, records = summary["labeled"], summary["labeled"] + summary["unlabeled"]
    if records and not labeled:
        warnings.append(f"no labels: 0 of {records} items labelled")
    warnings += _one_class("labels", summary["label_distribution"])
    for strategy, counts in summary["per_strategy"].items():
        if len(summary["per_strategy"]) > 1:
            options = {k: v for k, v in counts.items() if k != "unlabeled"}
            warnings += _one_class(f"{strategy} labels", options)
    for strategy, answers in summary.get("answers", {}).items():
        generations = answers["generations"]
        if generations < MIN_GENERATIONS:
            continue
        for field, share, what in (
            ("truncated", TRUNCATED_SHARE, "cut at max_tokens (raise sampling.max_tokens)"),
            ("repetition_loops", LOOP_SHARE, "ending in a repetition loop"),
        ):
            if answers[field] >= share * generations:
                warnings.append(
                    f"{strategy}: {answers[field]} of {generations} free-text generations "
                    f"({answers[field] / generations:.0%}) {what}"
                )
    return warnings


def _one_class(what: str, distribution: dict[str, int]) -> list[str]:
    total = sum(distribution.values())
    if total < ONE_CLASS_MIN_ITEMS:
        return []
    label, n = max(distribution.items(), key=lambda kv: kv[1])
    if n < ONE_CLASS_SHARE * total:
        return []
    return [f"degenerate {what}: {n} of {total} ({n / total:.0%}) are {label!r}"]
