"""Checks every report test makes: one self-contained file, and what the browser rendered."""

from __future__ import annotations

import re
from pathlib import Path

# a src/href (or CSS url()) that reaches outside the file
EXTERNAL = re.compile(r"""(?:\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//)|(?:url\(\s*["']?\s*(?:https?:)?//)""", re.I)


def assert_self_contained(html: Path) -> str:
    text = html.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    found = EXTERNAL.findall(text)
    assert not found, f"{html} refers to the network: {found[:3]}"
    assert "<script src" not in text and "<link" not in text
    return text


def rendered_charts(page) -> set[str]:
    """data-chart names of the figures whose SVG the browser laid out with a size."""
    return set(
        page.eval_on_selector_all(
            "figure.chart",
            "els => els.filter(e => { const s = e.querySelector('svg'); return s && s.getBoundingClientRect().width > 50"
            " && s.getBoundingClientRect().height > 50; }).map(e => e.dataset.chart)",
        )
    )


def visible_records(page) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        "article.record:not(.hidden)",
        "els => els.map(e => ({kind: e.dataset.kind, source: e.dataset.source, reason: e.dataset.reason,"
        " text: e.innerText}))",
    )
