"""What `dedup.reference` did in a build, for the manifest (`reference_dedup`), the card and the CLI summary.

Each task of the step writes a summary when it finishes (OUTPUT/.corpusforge/reference_dedup/<source>/
<rank>-<index key>.json): the reference, its index (documents, where it is cached, whether this task built it or
found it) and the task's counts. Here they are summed per source and reference; the per-drop match lists beside
them are named, not read (they grow with the drops).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from corpusforge.pipeline.steps.reference_dedup import REFERENCE_DIR


def reference_dedup_summary(state_dir: Path) -> list[dict[str, Any]]:
    """[{source, reference, index, params, tasks, index_built_in_this_build, checked, removed, by_reason, ...}]."""
    folder = Path(state_dir) / REFERENCE_DIR
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(folder.glob("*/*.json")) if folder.is_dir() else []:
        task = json.loads(path.read_text(encoding="utf-8"))
        entry = entries.setdefault(
            (task["source"], task["key"]),
            {
                "source": task["source"],
                "reference": task["reference"],
                "index_key": task["key"],
                "index": task["index"],
                "params": task["params"],
                "tasks": 0,
                "tasks_that_built_the_index": 0,
                "seconds_to_obtain_the_index": 0.0,  # the slowest task: building, or waiting for and opening
                "checked": 0,
                "removed": 0,
                "by_reason": {},
                "too_short_for_minhash": 0,
                "matches_files": f"{folder.name}/{task['source']}/*-{task['key']}.matches.jsonl",
            },
        )
        counts = task["counts"]
        entry["tasks"] += 1
        entry["tasks_that_built_the_index"] += int(task["built_here"])
        entry["seconds_to_obtain_the_index"] = max(entry["seconds_to_obtain_the_index"], task["seconds_to_obtain"])
        entry["checked"] += counts["checked"]
        entry["too_short_for_minhash"] += counts["too_short_for_minhash"]
        for reason, n in counts.items():
            if reason.startswith("reference_"):
                entry["by_reason"][reason] = entry["by_reason"].get(reason, 0) + n
                entry["removed"] += n
    return list(entries.values())


def index_origin(entry: dict[str, Any]) -> str:
    index = entry["index"]
    if entry["tasks_that_built_the_index"]:
        return f"index built in this build ({index['build_seconds']:.1f}s)"
    return f"index reused from the cache (opened in {entry['seconds_to_obtain_the_index']:.2f}s)"


def reference_dedup_text(checks: list[dict[str, Any]]) -> str:
    """One line per source and reference: what was checked, what was removed and why, where the matches are."""
    lines = []
    for c in checks:
        index = c["index"]
        reasons = ", ".join(f"{r} {n:,}" for r, n in c["by_reason"].items() if n)
        found = f"removed {c['removed']:,} ({reasons})" if c["removed"] else "removed 0 (nothing matched)"
        short = (
            f"; {c['too_short_for_minhash']:,} too short for a MinHash signature (checked for exact copies only)"
            if c["too_short_for_minhash"]
            else ""
        )
        skipped = index.get("skipped") or {}
        unread = (
            "; reference records skipped: " + ", ".join(f"{r} {n:,}" for r, n in skipped.items()) if skipped else ""
        )
        lines.append(
            f"- `{c['source']}` against {c['reference']} ({index['documents']:,} documents; {index_origin(c)}, "
            f"`{index['path']}`): checked {c['checked']:,}, {found}{short}{unread}. "
            f"Every match with its reference id: `.corpusforge/{c['matches_files']}`"
        )
    return "\n".join(lines)
