"""The report's part of a dataset card: the main plots as PNG files under images/, shown in the card's "Plots" section.

Build and label reports put their plots into the card the same way, so the writing lives here once: each report
only says which figures its card shows (`card_figures`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from corpusforge.output.dataset_dir import CARD, IMAGES_DIR, write_text_atomic
from corpusforge.report import charts

PLOTS_HEADING = "Plots"

# (title shown in the card, matplotlib figure, file name under images/)
CardFigure = tuple[str, Any, str]


def write_card_plots(root: Path, figures: list[CardFigure]) -> None:
    """Write the figures under ROOT/images/ and show them in ROOT's card under `## Plots`."""
    set_card_section(root / CARD, PLOTS_HEADING, card_section(write_card_images(root, figures)))


def write_card_images(root: Path, figures: list[CardFigure]) -> list[tuple[str, str]]:
    """Write the figures as PNG files under ROOT/images/; returns [(title, relative path)] for the card."""
    out = root / IMAGES_DIR
    for stale in out.glob("*.png"):  # the folder holds only the card's plots: none of an earlier build stays
        stale.unlink()
    written = []
    for title, fig, name in figures:
        charts.save_png(fig, out / name)
        written.append((title, f"{IMAGES_DIR}/{name}"))
    return written


def card_section(images: list[tuple[str, str]]) -> str:
    return "\n\n".join(f"![{title}]({path})" for title, path in images) + (
        "\n\nThe full report (record browser, lengths, languages, decontamination) is `report.html` next to this "
        "card; it is not uploaded. Regenerate it with `corpusforge report <this folder>`."
    )


def set_card_section(card: Path, heading: str, body: str, after: str = "Summary") -> None:
    """Put `## heading` + body into the card after the section `after` (replacing an earlier one of that name)."""
    if not card.is_file():
        return
    text = card.read_text(encoding="utf-8")
    block = f"## {heading}\n\n{body.strip()}\n\n"
    existing = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if existing.search(text):
        text = existing.sub(lambda _: block, text, count=1)
    else:
        anchor = re.compile(rf"^## {re.escape(after)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
        match = anchor.search(text)
        if match:
            text = text[: match.end()] + block + text[match.end() :]
        else:
            text = text.rstrip() + "\n\n" + block
    write_text_atomic(card, text.rstrip() + "\n")
