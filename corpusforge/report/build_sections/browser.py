"""The records the report's browser shows: kept samples, dropped and quarantined examples, matches highlighted."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from markupsafe import Markup, escape

from corpusforge.report.build import BuildData


def browser_records(data: BuildData) -> list[dict[str, Any]]:
    """Kept samples, dropped and quarantined examples; contamination matches are highlighted in the text."""
    marks: dict[str, list[str]] = defaultdict(list)
    for hit in data.contamination_hits:
        for key in ("span", "spans", "matched", "ngrams"):
            value = hit.get(key)
            if isinstance(value, str):
                marks[hit.get("id")].append(value)
            elif isinstance(value, list):
                marks[hit.get("id")] += [v for v in value if isinstance(v, str)]
    out = []
    for r in data.kept_samples + data.dropped_samples + data.quarantine_samples:
        r = dict(r)
        if r.get("id") in marks:
            r["detail"] = {**(r.get("detail") or {}), "matched": " | ".join(marks[r["id"]])}
        r["html"] = highlight(r.get("text") or "", marks.get(r.get("id"), []))
        r.setdefault("split", None)
        out.append(r)
    return out


def highlight(text: str, spans: list[str]) -> Markup:
    """The text, escaped, with each occurrence of the given spans in <mark> (whitespace-insensitive)."""
    if not spans:
        return escape(text)
    patterns = [r"\s+".join(re.escape(w) for w in span.split()) for span in spans if span.strip()]
    if not patterns:
        return escape(text)
    regex = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    out, last = [], 0
    for match in regex.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(Markup("<mark>") + escape(match.group(0)) + Markup("</mark>"))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)
