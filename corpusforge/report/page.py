"""The report page: a title, headline numbers, sections of charts and tables, and a record browser.

The page is one HTML file rendered from a jinja template with its style and its small script inline; charts are
inline SVG from matplotlib (charts.py). Nothing refers to anything outside the file, so it opens offline, from an
e-mail attachment or a CI artifact alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from corpusforge import __version__
from corpusforge.output.dataset_dir import write_text_atomic


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Markup] = field(default_factory=list)
    intro: str = ""

    def add(self, *blocks: Markup | str) -> Section:
        self.blocks += [b if isinstance(b, Markup) else paragraph(b) for b in blocks]
        return self


@dataclass
class Page:
    title: str
    kind: str
    path: str
    summary: str = ""
    status: str = "ok"
    cards: list[tuple[str, str, str]] = field(default_factory=list)  # (label, value, note)
    warnings: list[str] = field(default_factory=list)  # shown at the top, in red: what a user must not miss
    sections: list[Section] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)  # the browser's records

    def section(self, id: str, title: str, intro: str = "") -> Section:
        s = Section(id, title, intro=intro)
        self.sections.append(s)
        return s

    def render(self) -> str:
        env = Environment(loader=PackageLoader("corpusforge.report", "templates"), autoescape=select_autoescape())
        env.filters["location"] = location_text
        env.filters["compact_json"] = lambda v: json.dumps(v, ensure_ascii=False, default=str)
        browser = _browser_facets(self.records)
        return env.get_template("report.html.jinja").render(
            page=self,
            browser=browser,
            generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            version=__version__,
        )

    def write(self, path: Path) -> Path:
        write_text_atomic(path, self.render())
        return path


def _browser_facets(records: list[dict[str, Any]]) -> dict[str, Any]:
    kinds = sorted({r["kind"] for r in records}, key=["kept", "dropped", "quarantined"].index)
    reasons: dict[str, list[str]] = {}
    for r in records:
        reasons.setdefault(r["kind"], [])
        if r["reason"] not in reasons[r["kind"]]:
            reasons[r["kind"]].append(r["reason"])
    return {
        "kinds": kinds,
        "sources": sorted({r["source"] for r in records if r.get("source")}),
        "reasons": {k: sorted(v) for k, v in reasons.items()},
    }


def location_text(location: Any) -> str:
    """A record's location in its input (file:line, byte range, element, PMID) as one line."""
    if not location:
        return ""
    if not isinstance(location, dict):
        return str(location)
    loc = {k: v for k, v in location.items() if v not in (None, "", [])}
    file = loc.pop("file", None)
    parts = [str(file)] if file else []
    for key, value in loc.items():
        parts.append(f"{key} {value}")
    return ", ".join(parts)


# ---- blocks --------------------------------------------------------------------------------------------------------
def chart(name: str, svg_text: str, caption: str = "") -> Markup:
    cap = Markup(f"<figcaption>{escape(caption)}</figcaption>") if caption else Markup("")
    return Markup(f'<figure class="chart" data-chart="{escape(name)}">{svg_text}{cap}</figure>')


def paragraph(text: str) -> Markup:
    return Markup(f"<p>{escape(text)}</p>")


def note(text: str) -> Markup:
    return Markup(f'<p class="note">{escape(text)}</p>')


def table(header: list[str], rows: list[list[Any]], name: str = "", numeric_from: int = 1) -> Markup:
    """An HTML table; cells from column `numeric_from` on are right-aligned, numbers shown with separators."""

    def cell(value: Any, i: int) -> str:
        if isinstance(value, Markup):
            shown = value
        elif isinstance(value, bool):
            shown = "yes" if value else "NO"
        elif isinstance(value, int):
            shown = f"{value:,}"
        elif isinstance(value, float):
            shown = f"{value:.4g}" if abs(value) < 10 else f"{value:,.1f}"
        else:
            shown = escape("" if value is None else str(value))
        cls = ' class="num"' if i >= numeric_from and isinstance(value, (int, float)) else ""
        return f"<td{cls}>{shown}</td>"

    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(v, i) for i, v in enumerate(row)) + "</tr>" for row in rows)
    attr = f' data-table="{escape(name)}"' if name else ""
    return Markup(f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def pre(text: str, name: str = "") -> Markup:
    attr = f' data-block="{escape(name)}"' if name else ""
    return Markup(f"<details{attr}><summary>show</summary><pre>{escape(text)}</pre></details>")


def row(*blocks: Markup) -> Markup:
    return Markup('<div class="row">' + "".join(blocks) + "</div>")


def collapsed(summary: str, *blocks: Markup) -> Markup:
    """Blocks behind a <details> toggle: every number recorded, for who wants them, without crowding the page."""
    return Markup(f"<details><summary>{escape(summary)}</summary>" + "".join(blocks) + "</details>")


def generic_table(value: Any, name: str) -> Markup:
    """Any JSON value as a two-column table of flattened keys (statistics other engineers add over time)."""
    rows: list[list[Any]] = []

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict) and v:
            for k, sub in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), sub)
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v) and len(v) <= 200:
            for i, sub in enumerate(v):
                walk(f"{prefix}[{i}]", sub)
        else:
            rows.append([prefix, v if isinstance(v, (int, float, str)) or v is None else str(v)])

    walk("", value)
    return table(["key", "value"], rows[:500], name)
