"""The contamination report of a build: what `decontam.eval_sets` checked and removed, per eval set and source.

The filter writes, per task, every hit to `<work_dir>/contamination/<source>/<rank>.jsonl` (record id, set, check,
matched item, evidence) and its counts to `<rank>.counts.json` (documents checked per eval set, documents left
alone because of their split or their language). `ContaminationReport.from_folder` sums them for the manifest's
`contamination` section, the card and the report page.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpusforge.output.card import markdown_table

CONTAMINATION_DIR = "contamination"
COUNTS_SUFFIX = ".counts.json"
MAX_SPAN_CHARS = 240
EVIDENCE_KEYS = ("id", "ref", "rule", "coverage", "ngrams", "options_found", "options_total", "span", "item")


@dataclass
class ContaminationReport:
    """Per (eval set, source): documents checked, removed by id and by text evidence, a few example ids, and every
    text-evidence drop with its evidence (item, rule, coverage or options found, matched span)."""

    counts: Counter = field(default_factory=Counter)  # (eval set, source, check) -> removed
    checked: Counter = field(default_factory=Counter)  # (eval set, source) -> documents checked
    not_checked: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # source -> why -> n
    examples: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    ngram_hits: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    max_examples: int = 5

    @classmethod
    def from_folder(cls, folder: str | Path, max_examples: int = 5) -> ContaminationReport:
        """Read every hit and counts file under `folder` (= <work_dir>/contamination)."""
        report = cls(max_examples=max_examples)
        folder = Path(folder)
        for path in sorted(folder.rglob(f"*{COUNTS_SUFFIX}")):
            counts = json.loads(path.read_text(encoding="utf-8"))
            for source, per_set in counts["checked"].items():
                for eval_set, n in per_set.items():
                    report.checked[(eval_set, source)] += n
            for source, why_counts in counts.get("not_checked", {}).items():
                for why, n in why_counts.items():
                    report.not_checked[source][why] += n
        for path in sorted(folder.rglob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    report.add(json.loads(line))
        for key in report.examples:
            report.examples[key] = sorted(report.examples[key])[:max_examples]
        for key in report.ngram_hits:
            report.ngram_hits[key].sort(key=lambda h: h["id"])
        return report

    def add(self, hit: dict[str, Any]) -> None:
        self.counts[(hit["eval_set"], hit["source"], hit["check"])] += 1
        self.examples[(hit["eval_set"], hit["source"])].append(hit["id"])
        if hit["check"] == "ngram":
            self.ngram_hits[(hit["eval_set"], hit["source"])].append({k: hit.get(k) for k in EVIDENCE_KEYS})

    def to_dict(self) -> dict[str, Any]:
        """{eval set: {source: {"checked": n, "id": n, "ngram": n, "examples": [ids], "ngram_matches": [...]}}}:
        documents checked, removed by id, removed by text evidence, and the evidence of every text drop."""
        out: dict[str, Any] = {}
        keys = set(self.checked) | {(s, src) for s, src, _ in self.counts}
        for eval_set, source in sorted(keys):
            out.setdefault(eval_set, {})[source] = {
                "checked": self.checked.get((eval_set, source), 0),
                "id": self.counts.get((eval_set, source, "id"), 0),
                "ngram": self.counts.get((eval_set, source, "ngram"), 0),
                "examples": self.examples.get((eval_set, source), []),
                "ngram_matches": self.ngram_hits.get((eval_set, source), []),
            }
        return out

    def not_checked_dict(self) -> dict[str, dict[str, int]]:
        """{source: {why: documents}}: documents no eval set was compared with (kept split, a language no set has)."""
        return {source: dict(sorted(c.items())) for source, c in sorted(self.not_checked.items()) if sum(c.values())}

    def to_markdown(self) -> str:
        table = self.to_dict()
        if not table:
            return "No document was checked against an evaluation set."
        rows, spans = [], []
        for eval_set, sources in table.items():
            for source, entry in sources.items():
                examples = ", ".join(f"`{e}`" for e in entry["examples"])
                rows.append([eval_set, source, entry["checked"], entry["id"], entry["ngram"], examples])
                for hit in entry["ngram_matches"]:
                    spans.append([f"`{hit['id']}`", eval_set, f"`{hit['ref']}`", evidence_text(hit), _span(hit)])
            if len(sources) > 1:  # the evaluation set's total over its sources
                totals = [sum(e[k] for e in sources.values()) for k in ("checked", "id", "ngram")]
                rows.append([f"**{eval_set}**", "**all sources**", *totals, ""])
        headers = ["evaluation set", "source", "documents checked", "removed by id", "removed by text", "examples"]
        text = markdown_table(headers, rows)
        skipped = self.not_checked_dict()
        if skipped:
            text += "\n\nNot compared with any evaluation set: " + "; ".join(
                f"`{s}`: " + ", ".join(f"{why} {n:,}" for why, n in c.items()) for s, c in skipped.items()
            )
        if spans:
            text += (
                "\n\nEvery document removed by text evidence, with the evaluation item it contains: `coverage` is the "
                "share of the item's distinctive tokens found in the document, `options` how many of the item's "
                "options were found next to its question, `matched span` the matching (normalized) text.\n\n"
                f"<details><summary>{len(spans)} removed by text evidence</summary>\n\n"
                + markdown_table(["record", "evaluation set", "item", "evidence", "matched span"], spans)
                + "\n\n</details>"
            )
        return text


def evidence_text(hit: dict[str, Any]) -> str:
    """`coverage 0.82` (long-text rule) or `question 0.9, options 4/4` (question-and-options rule)."""
    if hit.get("rule") == "options":
        question = hit.get("coverage")
        q = "generic stem" if question is None else f"question {question}"
        return f"{q}, options {hit.get('options_found')}/{hit.get('options_total')}"
    return f"coverage {hit.get('coverage')}"


def _span(hit: dict[str, Any]) -> str:
    span = (hit.get("span") or "").replace("|", "\\|")
    return span if len(span) <= MAX_SPAN_CHARS else span[: MAX_SPAN_CHARS - 1] + "…"
