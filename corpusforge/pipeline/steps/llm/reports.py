"""The LLM steps' reports (OUTPUT/.corpusforge/llm_steps, one per step and task) summed for the manifest and card."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from corpusforge.output.card import markdown_table

REPORT_DIR = "llm_steps"  # under OUTPUT/.corpusforge: one JSON per step and task (model, templates, counts)
ACCEPTED, FELL_BACK = "accepted", "fell_back"  # outcomes: documents whose answer passed, and those that did not
SAMPLES_PER_REASON, SAMPLE_CHARS = 5, 400  # answers kept per outcome (accepted, each failed check) in the report
MAX_FALLBACK_SHARE = 0.5  # more documents falling back than this share: the step did not work (a warning)
MAX_TRUNCATED_SHARE = 0.2  # more generations cut at max_tokens than this share: max_tokens or the prompt is wrong


def iter_reports(state_dir: Path) -> Iterator[dict[str, Any]]:
    """Every LLM step report under OUTPUT/.corpusforge/llm_steps (one per step and task)."""
    folder = state_dir / REPORT_DIR
    if folder.is_dir():
        for path in sorted(folder.glob("*/*/*.json")):
            yield json.loads(path.read_text())


SUMMED = ("requests", "cache_hits", "sent", "deduplicated", "prompt_tokens", "cached_prompt_tokens",
          "completion_tokens")  # fmt: skip


def summarize_reports(state_dir: Path) -> list[dict[str, Any]]:
    """One entry per (source, step): model, sampling, templates, and counts summed over the step's tasks."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for report in iter_reports(state_dir):
        key = (report["source"], report["step"])
        entry = merged.get(key)
        if entry is None:
            entry = merged[key] = {
                k: report[k] for k in ("source", "step", "model", "model_config_sha256", "backend", "chat")
            }
            entry.update(sampling=report["sampling"], retries=report["retries"], templates=report["templates"])
            entry.update({k: 0 for k in SUMMED}, errors={}, outcomes={}, samples={}, tasks=0)
        entry["tasks"] += 1
        for k in SUMMED:
            entry[k] += int(report["counters"].get(k, 0))
        for name in ("errors", "outcomes"):
            source = report["counters"]["errors"] if name == "errors" else report["outcomes"]
            for k, v in source.items():
                entry[name][k] = entry[name].get(k, 0) + v
        for k, texts in report.get("samples", {}).items():
            kept = entry["samples"].setdefault(k, [])
            kept += texts[: SAMPLES_PER_REASON - len(kept)]
    return [merged[k] for k in sorted(merged)]


def tally(outcomes: dict[str, int]) -> dict[str, Any]:
    """A step's answers: accepted (first try / after a retry), fallen back, failed checks by reason, truncations."""
    retried = sum(v for k, v in outcomes.items() if k.startswith("answered_on_try_") and k != "answered_on_try_1")
    failed = {k.removeprefix("failed_"): v for k, v in sorted(outcomes.items()) if k.startswith("failed_")}
    generations = sum(v for k, v in outcomes.items() if k.startswith("answered_on_try_")) + sum(failed.values())
    return {
        "accepted": outcomes.get(ACCEPTED, 0),
        "accepted_after_retry": retried,
        "fell_back": outcomes.get(FELL_BACK, 0),
        "failed_checks": failed,
        "generations": generations,
        "truncated": failed.get("truncated", 0),
    }


def step_warnings(entries: list[dict[str, Any]]) -> list[str]:
    """Degenerate LLM steps: most documents fell back, or many generations ran to max_tokens."""
    warnings = []
    for e in entries:
        t, where = tally(e["outcomes"]), f"LLM step {e['step']} of source {e['source']!r}"
        answered = t["accepted"] + t["fell_back"]
        if answered and t["fell_back"] > MAX_FALLBACK_SHARE * answered:
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(t["failed_checks"].items(), key=lambda kv: -kv[1]))
            warnings.append(
                f"{where}: {t['fell_back']} of {answered} documents fell back (no answer passed its checks; "
                f"failed checks: {reasons}); the model or prompt does not fit this step"
            )
        if t["generations"] and t["truncated"] > MAX_TRUNCATED_SHARE * t["generations"]:
            warnings.append(
                f"{where}: {t['truncated']} of {t['generations']} generations were cut at max_tokens "
                f"({e['sampling'].get('max_tokens')}); raise it (sampling.max_tokens) or bound the answer"
            )
    return warnings


def reports_markdown(entries: list[dict[str, Any]]) -> str:
    """The card's "LLM steps" section: what answered, with which settings, and what came of it."""
    rows = []
    for e in entries:
        t = tally(e["outcomes"])
        outcomes = {
            k: v
            for k, v in e["outcomes"].items()
            if not k.startswith(("failed_", "answered_on_try_")) and k not in (ACCEPTED, FELL_BACK)
        }
        rows.append([
            f"`{e['source']}` {e['step']}", f"`{e['model']}` ({e['backend']}, config {e['model_config_sha256']})",
            e["requests"], e["sent"], e["cache_hits"], e["prompt_tokens"], e["completion_tokens"],
            f"{t['accepted']} ({t['accepted_after_retry']} after a retry)", t["fell_back"],
            ", ".join(f"{k} {v}" for k, v in t["failed_checks"].items()) or "-",
            ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "-",
        ])  # fmt: skip
    table = markdown_table(
        ["step", "model", "requests", "sent", "from cache", "prompt tokens", "generated tokens", "accepted",
         "fell back", "failed checks (all tries)", "outcomes"], rows,
    )  # fmt: skip
    details = [
        f"- `{e['source']}` {e['step']}: sampling {json.dumps(e['sampling'])}, retries {json.dumps(e['retries'])}, "
        f"templates {json.dumps(e['templates'])}"
        for e in entries
    ]
    return (
        table + "\n\nFailed checks are retried, then the step falls back (`fallback_<reason>`: the template text "
        "is kept) or drops the document (`dropped_<reason>`). Settings:\n\n" + "\n".join(details)
    )
