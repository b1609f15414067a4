"""`books.strip_nontext`: clean one whole book, the parts of the package in the order they run.

Markup first (markup.py: Project Gutenberg licence, bracketed transcription markup, footnotes), then HTML tables,
Markdown links and images, then steps 1-7 of the package docstring: pages, tables, captions, named and unnamed back
matter, paragraphs (headings kept). A book that would lose most of itself is quarantined rather than cut down.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.filters.base_filter import BaseFilter, get_filter_result
from datatrove.utils.logging import logger
from datatrove.utils.typeshelper import StatHints
from pydantic import Field

from corpusforge.io.quarantine import QuarantineWriter
from corpusforge.pipeline.registry import BuildContext, StepParams, register
from corpusforge.pipeline.steps.books.back_matter import remove_back_matter, remove_unnamed_back_matter
from corpusforge.pipeline.steps.books.front_matter import strip_title_pages
from corpusforge.pipeline.steps.books.headings import heading_level
from corpusforge.pipeline.steps.books.markup import strip_markup
from corpusforge.pipeline.steps.books.pages import join_pages, split_pages, strip_page_furniture
from corpusforge.pipeline.steps.books.paragraphs import build_paragraphs
from corpusforge.pipeline.steps.books.tables import (
    HTML_TABLE_RE,
    MD_IMAGE_RE,
    MD_LINK_RE,
    remove_captions,
    remove_tables,
)
from corpusforge.pipeline.steps.books.text import SECTION_BREAK, normalize_newlines, removed


@dataclass
class StripOptions:
    edge_lines: int = 2
    running_min_pages: int = 3
    gutenberg: bool | None = None  # None: detect (a Project Gutenberg mention near the start or the end)
    max_section_share: float = 0.3  # a single named back-matter part may not take more of the book than this


def strip_nontext(text: str, options: StripOptions | None = None) -> tuple[str, Counter]:
    """Clean one book: -> (text made of headings and prose paragraphs separated by blank lines, counts).

    The counts give, per kind of non-text, how often it was removed (`stripped_<kind>`) and how many characters it
    took (`chars_stripped_<kind>`); `chars_stripped_layout` is the rest of the difference (line endings,
    indentation, blank lines, joined hyphenation), so the kinds add up to `chars_in - chars_out`.
    """
    options = options or StripOptions()
    stats: Counter = Counter()
    chars_in = len(text)
    text = normalize_newlines(text).replace(SECTION_BREAK, "")  # the marker is ours; a stray one in a book goes
    lines = strip_markup(text, stats, options.gutenberg)
    lines = strip_title_pages(lines, stats)
    text = "\n".join(lines)

    def html_table(m: re.Match) -> str:
        removed(stats, "tables", m.group(0))
        return "\n\n"

    text = HTML_TABLE_RE.sub(html_table, text)

    def link(m: re.Match) -> str:
        stats["chars_stripped_links"] += len(m.group(0)) - len(m.group(1))
        return m.group(1)

    text = MD_LINK_RE.sub(link, text)
    lines = text.split("\n")
    kept = [line for line in lines if not MD_IMAGE_RE.match(line)]
    for line in lines:
        if MD_IMAGE_RE.match(line):
            removed(stats, "images", [line])
    pages = split_pages(kept)
    pages = strip_page_furniture(pages, options.edge_lines, options.running_min_pages, stats)
    lines = join_pages(pages)
    lines = remove_tables(lines, stats)
    lines = remove_captions(lines, stats)
    lines = remove_back_matter(lines, stats, options.max_section_share)
    lines = remove_unnamed_back_matter(lines, stats)
    paragraphs = build_paragraphs(lines, stats)
    while paragraphs and (
        paragraphs[-1] == SECTION_BREAK or (heading_level(paragraphs[-1]) is not None and "\n" not in paragraphs[-1])
    ):
        last = paragraphs.pop()
        if last != SECTION_BREAK:  # a heading left with no text under it at the very end (its content was tables)
            removed(stats, "empty_headings", [last])
    cleaned = join_paragraphs(paragraphs)
    stats["chars_in"] = chars_in
    stats["chars_out"] = len(cleaned)
    by_kind = sum(v for k, v in stats.items() if k.startswith("chars_stripped_"))
    stats["chars_stripped_layout"] = chars_in - len(cleaned) - by_kind + stats["chars_added_heading_marks"]
    return cleaned, +stats


def join_paragraphs(paragraphs: list[str]) -> str:
    """Paragraphs separated by a blank line; where a part of the book was removed (SECTION_BREAK) and no heading
    follows, by two, so that `books.chunk` ends its chunk and section label there. No break at the start or end."""
    out: list[str] = []
    following: str | None = None  # the next paragraph that is not a break, scanning backwards
    keep = [False] * len(paragraphs)
    for i in range(len(paragraphs) - 1, -1, -1):
        if paragraphs[i] == SECTION_BREAK:
            keep[i] = following is not None and not is_heading(following)
        else:
            following = paragraphs[i]
    for paragraph, kept_break in zip(paragraphs, keep):
        if paragraph != SECTION_BREAK:
            out.append(paragraph)
        elif kept_break and out and out[-1] != SECTION_BREAK:
            out.append(SECTION_BREAK)
    return "\n\n".join(out).replace(f"\n\n{SECTION_BREAK}\n\n", "\n\n\n")


def is_heading(paragraph: str) -> bool:
    return "\n" not in paragraph and heading_level(paragraph) is not None


def stripped_chars_by_kind(stats: dict[str, float]) -> dict[str, int]:
    """{kind: characters removed} from strip_nontext's counts (also from a build's summed stats)."""
    return {
        k.removeprefix("chars_stripped_"): int(v) for k, v in sorted(stats.items()) if k.startswith("chars_stripped_")
    }


@register("books.strip_nontext")
class StripNonText(BaseFilter):
    """Strip licence text, transcription markup, tables, captions, back matter, page furniture and hyphenation from
    books; keep headings and prose.

    A 1:1 transform that may drop or quarantine: a book with no prose left is dropped (`empty_after_strip`); a book
    of `guard_min_chars` or more that would lose more than `max_removed_share` of its characters (not counting a
    Project Gutenberg licence, which is not part of the book) is not cut down silently: it is quarantined
    whole (`OUTPUT/quarantine/<source>/books.strip_nontext/`, reason `stripped_most_of_book`, with what each kind of
    stripping took), counted as `quarantined`, and fails a `--strict` build. What was removed is counted per kind
    (`stripped_<kind>`, `chars_stripped_<kind>`) with `chars_in` / `chars_out`.
    """

    class Params(StepParams):
        edge_lines: int = 2  # lines at the top and bottom of a page searched for running headers/footers
        running_min_pages: int = 3  # a header/footer must repeat on this many pages
        gutenberg: Literal["auto", True, False] = "auto"  # Project Gutenberg licence/credits; auto: detect
        max_removed_share: float = Field(0.5, gt=0, le=1)  # more removed than this: the book is quarantined
        max_section_share: float = Field(0.3, gt=0, le=1)  # one named back-matter part may not be larger
        guard_min_chars: int = Field(2000, ge=0)  # texts shorter than this are not books: no removed-share guard

    @classmethod
    def from_params(cls, params: Params, ctx: BuildContext) -> StripNonText:
        return cls(**params.model_dump(exclude={"type"}), quarantine_dir=ctx.quarantine_dir / cls.name)

    def __init__(
        self,
        edge_lines: int = 2,
        running_min_pages: int = 3,
        gutenberg: bool | str = "auto",
        max_removed_share: float = 0.5,
        max_section_share: float = 0.3,
        guard_min_chars: int = 2000,
        quarantine_dir: str | Path | None = None,
    ):
        super().__init__()
        self.options = StripOptions(
            edge_lines=edge_lines,
            running_min_pages=running_min_pages,
            gutenberg=None if gutenberg == "auto" else bool(gutenberg),
            max_section_share=max_section_share,
        )
        self.max_removed_share = max_removed_share
        self.guard_min_chars = guard_min_chars
        self.quarantine = QuarantineWriter(quarantine_dir)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        original = doc.text
        cleaned, stats = strip_nontext(original, self.options)
        # the share of the book itself: a Gutenberg licence is not part of the book (a short text can be mostly
        # licence), so it is left out of both sides
        licence = stats["chars_stripped_gutenberg_header"] + stats["chars_stripped_gutenberg_footer"]
        body = stats["chars_in"] - licence
        share = 1 - stats["chars_out"] / body if body > 0 else 1.0
        if share > self.max_removed_share and body >= self.guard_min_chars:
            self.quarantine_book(doc, share, stats)
            return False, QUARANTINED
        for key, value in stats.items():
            self.stat_update(key, value=value)
        self.stat_update("chars_removed", value=len(original) - len(cleaned))
        doc.text = cleaned
        doc.metadata.setdefault("transforms", []).append(self.name)
        if not has_prose(cleaned):
            return False, "empty_after_strip"
        return True

    def quarantine_book(self, doc: Document, share: float, stats: Counter) -> None:
        kinds = sorted(stripped_chars_by_kind(stats).items(), key=lambda kv: -kv[1])
        detail = ", ".join(f"{kind} {n:,}" for kind, n in kinds if n > 0)
        message = (
            f"books.strip_nontext would remove {share:.1%} of {doc.id} (more than max_removed_share="
            f"{self.max_removed_share}): characters by kind: {detail}. The book is kept out of the dataset rather "
            "than cut down silently; check its layout, or raise max_removed_share / max_section_share"
        )
        logger.warning(message)
        location = dict(doc.metadata.get("provenance") or {})
        location.setdefault("file", doc.id)
        self.quarantine.write(
            {
                "source": doc.metadata.get("source") or "",
                "reader": self.name,
                "location": location,
                "reason": "stripped_most_of_book",
                "error": message,
                "raw": doc.text,
                "raw_encoding": "text",
            }
        )
        self.stat_update("quarantined", "quarantined_stripped_most_of_book")
        self.stat_update("chars_in_quarantined", value=stats["chars_in"])

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """BaseFilter's loop, with a quarantined book counted as `quarantined` instead of `dropped`."""
        self.quarantine.set_rank(rank)
        try:
            for doc in data:
                self.stat_update(StatHints.total)
                with self.track_time():
                    result, reason = get_filter_result(self.filter(doc))
                if result:
                    self.stat_update(StatHints.forwarded)
                    self.update_doc_stats(doc)
                    yield doc
                elif reason != QUARANTINED:
                    self.stat_update(StatHints.dropped, f"dropped_{reason}")
        finally:
            self.quarantine.close()


QUARANTINED = "__quarantined__"


def has_prose(text: str) -> bool:
    return any(heading_level(p) is None for p in text.split("\n\n") if p.strip())
