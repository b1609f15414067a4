"""Character-level cleaning shared by every source.

`clean.characters` is a 1:1 transform (it never drops): Unicode normalization, control and zero-width characters
removed, whitespace runs collapsed, at most one blank line between paragraphs. Documents that end up empty or
mostly replacement characters are the business of the filters that follow (`filter.length`,
`filter.bad_characters`), so that every drop is counted with a reason.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from corpusforge.pipeline.registry import register

# C0/C1 controls except \t \n, plus zero-width and BOM characters
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
_SPACING = r"\t\u00a0\u2000-\u200a\u202f\u205f\u3000"  # besides " "
# runs of spacing characters but a lone " " (replacing every space of a text by itself would double the cost)
_SPACES = re.compile(f"[{_SPACING}][ {_SPACING}]*| [ {_SPACING}]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str, normalization: str | None = "NFC") -> str:
    if normalization:
        text = unicodedata.normalize(normalization, text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip(" ") for line in text.split("\n"))  # no space around a line break
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


@register("clean.characters")
class CleanCharacters(PipelineStep):
    """Normalize Unicode and whitespace, remove control and zero-width characters (never drops)."""

    type = "🧹 - CLEAN"

    # NFKC also folds full-width Latin letters and digits (common in Chinese text) to ASCII
    def __init__(self, normalization: Literal["NFC", "NFKC"] | None = "NFC"):
        super().__init__()
        self.normalization = normalization

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            with self.track_time():
                cleaned = clean_text(doc.text, self.normalization)
                if cleaned != doc.text:
                    self.stat_update("changed")
                    doc.text = cleaned
                doc.metadata.setdefault("transforms", []).append(self.name)
            yield doc
