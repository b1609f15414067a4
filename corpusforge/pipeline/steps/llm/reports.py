"""The LLM steps' reports (OUTPUT/.corpusforge/llm_steps, one per step and task) summed for the manifest and card."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from corpusforge.output.card import markdown_table

REPORT_DIR = "llm_steps"  # under OUTPUT/.corpusforge: one JSON per step and task (model, templates, counts)


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
            entry.update({k: 0 for k in SUMMED}, errors={}, outcomes={}, tasks=0)
        entry["tasks"] += 1
        for k in SUMMED:
            entry[k] += int(report["counters"].get(k, 0))
        for name in ("errors", "outcomes"):
            source = report["counters"]["errors"] if name == "errors" else report["outcomes"]
            for k, v in source.items():
                entry[name][k] = entry[name].get(k, 0) + v
    return [merged[k] for k in sorted(merged)]


def reports_markdown(entries: list[dict[str, Any]]) -> str:
    """The card's "LLM steps" section: what answered, with which settings, and what came of it."""
    rows = []
    for e in entries:
        outcomes = {k: v for k, v in e["outcomes"].items() if not k.startswith(("failed_", "answered_on_try_"))}
        rows.append([
            f"`{e['source']}` {e['step']}", f"`{e['model']}` ({e['backend']}, config {e['model_config_sha256']})",
            e["requests"], e["sent"], e["cache_hits"], e["prompt_tokens"], e["completion_tokens"],
            ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "-",
        ])  # fmt: skip
    table = markdown_table(
        ["step", "model", "requests", "sent", "from cache", "prompt tokens", "generated tokens", "outcomes"], rows
    )
    details = [
        f"- `{e['source']}` {e['step']}: sampling {json.dumps(e['sampling'])}, retries {json.dumps(e['retries'])}, "
        f"templates {json.dumps(e['templates'])}"
        for e in entries
    ]
    return (
        table + "\n\nFailed checks are retried, then the step falls back (`fallback_<reason>`: the template text "
        "is kept) or drops the document (`dropped_<reason>`). Settings:\n\n" + "\n".join(details)
    )
