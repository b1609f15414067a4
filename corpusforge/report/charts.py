"""Charts drawn with matplotlib: inline SVG for the HTML report, PNG files for the dataset card.

Every chart is a function returning a matplotlib Figure; `svg()` and `save_png()` render it. Text stays text in the
SVG (`svg.fonttype: none`) so charts are small and searchable, and ids are salted so a rebuild gives the same file.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac"]
KEPT, DROPPED, QUARANTINED = "#54a24b", "#e45756", "#f2a33a"


def _mpl():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "corpusforge",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 10,
            "axes.titleweight": "bold",
            "figure.dpi": 100,
        }
    )
    return plt


def svg(fig) -> str:
    """The figure as an inline <svg> element (no XML prolog), then closed."""
    plt = _mpl()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def save_png(fig, path: Path, dpi: int = 110) -> Path:
    plt = _mpl()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", bbox_inches="tight", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return path


def _height(n_rows: int, per_row: float = 0.32, base: float = 1.0) -> float:
    return max(1.8, base + per_row * n_rows)


def funnel(sources: Mapping[str, Mapping[str, Any]], title: str = "Where every input record went"):
    """One horizontal bar per source and unit: kept | dropped | quarantined, each segment labelled with its count.

    `sources` is manifest["sources"]; a source whose documents change unit (a book into chunks) has one bar per
    segment, so each bar adds up in its own unit.
    """
    plt = _mpl()
    rows = []
    for name, s in sources.items():
        segments = s.get("segments") or [
            {
                "unit": "records",
                "input": s["input"],
                "output": s["kept"],
                "dropped": s["dropped"],
                "quarantined": s["quarantined"],
            }
        ]
        for i, seg in enumerate(segments):
            label = f"{name} [{seg['unit']}]" if i == 0 else f"{name} → {seg['unit']}"
            rows.append((label, seg["output"], sum(seg["dropped"].values()), seg.get("quarantined", 0)))
    fig, ax = plt.subplots(figsize=(5.4, _height(len(rows))))
    labels = [r[0] for r in rows][::-1]
    kept = np.array([r[1] for r in rows][::-1], dtype=float)
    dropped = np.array([r[2] for r in rows][::-1], dtype=float)
    quarantined = np.array([r[3] for r in rows][::-1], dtype=float)
    totals = np.maximum(kept + dropped + quarantined, 1)
    y = np.arange(len(rows))
    # shares, so that a 3-book source and a 1M-abstract source read alike; counts are printed on the bars
    for values, left, color, name in (
        (kept, 0, KEPT, "kept / passed on"),
        (dropped, kept, DROPPED, "dropped (counted reason)"),
        (quarantined, kept + dropped, QUARANTINED, "quarantined (malformed)"),
    ):
        bars = ax.barh(y, values / totals, left=np.asarray(left) / totals, color=color, label=name, height=0.7)
        for bar, v in zip(bars, values):
            if v and bar.get_width() > 0.06:
                ax.text(
                    bar.get_x() + bar.get_width() / 2,
                    bar.get_y() + bar.get_height() / 2,
                    f"{int(v):,}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white",
                )
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.02), ncol=3, frameon=False, fontsize=8)
    ax.set_title(title, loc="left", pad=22)
    return fig


def bars(counts: Mapping[str, float], title: str, xlabel: str = "", color: str = PALETTE[0], limit: int = 30):
    """Horizontal bars of counts, largest first (reasons, languages, labels)."""
    plt = _mpl()
    items = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
    fig, ax = plt.subplots(figsize=(4.0, _height(len(items), 0.28)))
    if not items:
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        names = [k for k, _ in items][::-1]
        values = [v for _, v in items][::-1]
        drawn = ax.barh(names, values, color=color)
        shown = [f"{v:,.0f}" if float(v).is_integer() else f"{v:.4g}" for v in values]
        ax.bar_label(drawn, labels=shown, padding=3, fontsize=8)
        integer = all(float(v).is_integer() for v in values)
        ax.xaxis.set_major_locator(plt.MaxNLocator(5, integer=integer))
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}" if integer else f"{v:.3g}"))
        ax.set_xlabel(xlabel)
        ax.margins(x=0.15)
    ax.set_title(title, loc="left")
    return fig


def stacked_shares(table: Mapping[str, Mapping[str, float]], title: str):
    """One bar per row (a source), split by column shares (languages): the mix at a glance."""
    plt = _mpl()
    rows = list(table)
    columns = sorted({c for r in table.values() for c in r}, key=lambda c: -sum(r.get(c, 0) for r in table.values()))
    fig, ax = plt.subplots(figsize=(7.5, _height(len(rows))))
    left = np.zeros(len(rows))
    y = np.arange(len(rows))[::-1]
    for i, column in enumerate(columns):
        values = np.array([table[r].get(column, 0) for r in rows], dtype=float)
        share = values / np.maximum([sum(table[r].values()) for r in rows], 1)
        ax.barh(y, share, left=left, color=PALETTE[i % len(PALETTE)], label=column, height=0.7)
        left += share
    ax.set_yticks(y, rows)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.02), ncol=min(len(columns), 5), frameon=False, fontsize=8)
    ax.set_title(title, loc="left", pad=22)
    return fig


def histograms(groups: Mapping[str, Sequence[float] | np.ndarray], title: str, xlabel: str, bins: int = 40):
    """Overlaid step histograms on a log x-axis (lengths span orders of magnitude), one line per group."""
    plt = _mpl()
    groups = _top_groups(groups)
    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    values = [np.asarray(v, dtype=float) for v in groups.values()]
    positive = [v[v > 0] for v in values]
    everything = np.concatenate(positive) if positive and any(len(v) for v in positive) else np.array([])
    if not len(everything):
        ax.text(0.5, 0.5, "no records", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(title, loc="left")
        return fig
    low, high = max(everything.min(), 1), max(everything.max(), 2)
    edges = np.geomspace(low, high * 1.0001, bins + 1) if high / low > 20 else np.linspace(low, high, bins + 1)
    for i, (name, v) in enumerate(zip(groups, positive)):
        if len(v):
            ax.hist(
                v,
                bins=edges,
                histtype="step",
                linewidth=1.6,
                color=PALETTE[i % len(PALETTE)],
                label=f"{name} (n={len(v):,}, median {np.median(v):,.0f})",
            )
    if high / low > 20:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("records")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title, loc="left")
    return fig


def _top_groups(groups: Mapping[str, Sequence[float] | np.ndarray], top: int = 8) -> dict[str, np.ndarray]:
    """The `top` largest groups, the rest pooled as "other": a chart with 40 lines shows nothing."""
    ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    out = {k: np.asarray(v) for k, v in ordered[:top]}
    rest = [np.asarray(v) for _, v in ordered[top:]]
    if rest:
        out[f"{len(rest)} other groups"] = np.concatenate(rest)
    return out


def histogram(values: Sequence[float], title: str, xlabel: str, bins: int | Sequence[float] = 20, color=PALETTE[0]):
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(5, 2.8))
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if len(v):
        ax.hist(v, bins=bins, color=color, edgecolor="white")
        ax.set_ylabel("items")
    else:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    return fig


def matrix(
    values: Sequence[Sequence[float]],
    rows: Sequence[str],
    columns: Sequence[str],
    title: str,
    row_label: str = "",
    column_label: str = "",
    fmt: str = "{:.0f}",
    vmax: float | None = None,
):
    """A heatmap with each cell's value written in it (confusion and agreement matrices)."""
    plt = _mpl()
    data = np.asarray(values, dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(columns), 1.0 + 0.55 * len(rows)))
    ax.imshow(data, cmap="Blues", vmin=0, vmax=vmax if vmax is not None else max(data.max(), 1e-9), aspect="auto")
    for (i, j), v in np.ndenumerate(data):
        dark = v > 0.6 * (vmax if vmax is not None else max(data.max(), 1e-9))
        ax.text(j, i, fmt.format(v), ha="center", va="center", color="white" if dark else "black", fontsize=8)
    ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel(column_label)
    ax.set_ylabel(row_label)
    ax.spines[:].set_visible(False)
    ax.set_title(title, loc="left")
    return fig


def curves(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    xlabel: str,
    ylabel: str,
    log_y: bool = False,
    markers: bool = False,
):
    """Lines of (x, y) per name: loss, learning rate, gradient norm, eval metrics, one line per run or stage."""
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(7, 3.0))
    drawn = 0
    for i, (name, (x, y)) in enumerate(series.items()):
        if len(x):
            ax.plot(
                x,
                y,
                label=name,
                color=PALETTE[i % len(PALETTE)],
                linewidth=1.5,
                marker="o" if markers or len(x) < 3 else None,
                markersize=3,
            )
            drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes)
    elif log_y and all(min(y) > 0 for x, y in series.values() if len(y)):
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if drawn > 1 or (drawn == 1 and len(series) > 1):
        ax.legend(fontsize=7, frameon=False)
    ax.set_title(title, loc="left")
    return fig
