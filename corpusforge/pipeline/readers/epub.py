"""EPUB books (EPUB 2 and 3) as Markdown text: chapters in spine order, non-text removed structurally.

An EPUB is a zip: `META-INF/container.xml` names the package document (OPF), whose `manifest` lists the files and
whose `spine` gives the reading order. Each spine item (XHTML) becomes Markdown-like text: `<h1>`..`<h6>` become
`#` headings (so `books.chunk` sees chapters), paragraphs, list items and quotes become paragraphs. Removed by
element, not by guessing from text, and counted per kind:

    tables      <table>
    figures     <figure>, <img>, <svg>, <picture>, captions (<figcaption>, <caption>)
    formulas    <math>
    navigation  <nav>, the navigation document itself, epub:type toc / landmarks / page-list
    footnotes   <aside>, epub:type / role footnote, endnote, rearnote (and `footnotes`/`endnotes` sections);
                note references: links to a fragment whose text is a marker (`1`, `*`, `[2]`), epub:type noteref
    page_numbers  epub:type / role pagebreak
    back matter   epub:type bibliography, index, appendix, copyright-page (references, indexes, appendices, licence)
    licence     Project Gutenberg's boilerplate sections (`id="pg-header"` / `"pg-footer"`, class `pg-boilerplate`)

A DRM-protected EPUB (chapters listed in META-INF/encryption.xml) is quarantined as `encrypted_epub`, one whose
chapters hold no text (images of pages) as `no_text_in_epub`, a broken one as `bad_epub`.
Spine items marked `linear="no"` (pop-up notes, answer keys) are auxiliary content and are left out, counted.
The XML of container and package is parsed with the entity-refusing parser (safe_xml); chapters go through the
standard library's HTML parser, which never resolves external entities.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
import zlib
from collections import Counter
from html.parser import HTMLParser
from urllib.parse import unquote

from corpusforge.io.input_records import MalformedRecord
from corpusforge.io.safe_xml import UnsafeXML, local_name, parse_bytes

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BLOCKS = {"p", "div", "li", "blockquote", "section", "article", "pre", "dd", "dt", "tr", "body", "header", "footer",
          "main", "dl", "ul", "ol", "hgroup"}  # fmt: skip
HEADINGS = {f"h{i}": i for i in range(1, 7)}
TAG_KINDS = {"table": "tables", "figure": "figures", "img": "figures", "svg": "figures", "picture": "figures",
             "figcaption": "captions", "caption": "captions", "math": "formulas", "nav": "navigation",
             "aside": "footnotes", "script": "markup", "style": "markup", "head": "markup"}  # fmt: skip
TYPE_KINDS = {"footnote": "footnotes", "footnotes": "footnotes", "endnote": "footnotes", "endnotes": "footnotes",
              "rearnote": "footnotes", "rearnotes": "footnotes", "note": "footnotes", "noteref": "footnote_markers",
              "pagebreak": "page_numbers", "toc": "navigation", "landmarks": "navigation", "page-list": "navigation",
              "bibliography": "references", "index": "indexes", "appendix": "appendices",
              "copyright-page": "licence", "cover": "cover"}  # fmt: skip
PG_BOILERPLATE_IDS = {"pg-header", "pg-footer", "pg-machine-header", "pg-start-separator", "pg-end-separator"}
MARKER_RE = re.compile(r"^\s*[\[(]?\s*(?:\d{1,4}|[*†‡§¶]+|[a-z])\s*[\])]?\s*$")


def semantic_types(attrs: dict[str, str | None]) -> list[str]:
    """epub:type tokens and ARIA doc- roles (`doc-footnote` -> `footnote`)."""
    tokens = (attrs.get("epub:type") or "").split()
    tokens += [r.removeprefix("doc-") for r in (attrs.get("role") or "").split() if r.startswith("doc-")]
    return [t.split(":")[-1].lower() for t in tokens]


class ChapterText(HTMLParser):
    """One XHTML chapter -> Markdown paragraphs, with removed elements counted in `removed`."""

    def __init__(self, removed: Counter):
        super().__init__(convert_charrefs=True)
        self.removed = removed
        self.paragraphs: list[str] = []
        self.buffer: list[str] = []
        self.heading = 0
        self.skip = 0  # depth inside a removed element
        self.link: list[str] | None = None  # text of a fragment link, held until we know it is not a marker

    def drop_kind(self, tag: str, attrs: dict[str, str | None]) -> str | None:
        if attrs.get("id") in PG_BOILERPLATE_IDS or "pg-boilerplate" in (attrs.get("class") or ""):
            return "licence"  # Project Gutenberg's EPUBs carry the licence in these sections
        for token in semantic_types(attrs):
            if token in TYPE_KINDS:
                return TYPE_KINDS[token]
        return TAG_KINDS.get(tag)

    def flush(self) -> None:
        text = " ".join("".join(self.buffer).split())
        self.buffer = []
        if text:
            self.paragraphs.append(f"{'#' * self.heading} {text}" if self.heading else text)
        self.heading = 0

    def handle_starttag(self, tag: str, attrs_list) -> None:
        attrs = dict(attrs_list)
        if self.skip:
            if tag not in VOID:
                self.skip += 1
            return
        kind = self.drop_kind(tag, attrs)
        if kind is not None:
            if kind != "markup":
                self.removed[kind] += 1
            if tag not in VOID:
                self.skip = 1
            return
        if tag in HEADINGS:
            self.flush()
            self.heading = HEADINGS[tag]
        elif tag in BLOCKS:
            self.flush()
        elif tag == "br":
            self.buffer.append(" ")
        elif tag == "a" and "#" in (attrs.get("href") or "") and self.link is None:
            self.link = []

    def handle_startendtag(self, tag: str, attrs_list) -> None:
        attrs = dict(attrs_list)
        if not self.skip and self.drop_kind(tag, attrs) not in (None, "markup"):
            self.removed[self.drop_kind(tag, attrs)] += 1  # type: ignore[index]
        elif tag == "br" and not self.skip:
            self.buffer.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self.skip:
            if tag not in VOID:
                self.skip -= 1
            return
        if tag == "a" and self.link is not None:
            text = "".join(self.link)
            self.link = None
            if MARKER_RE.match(text):
                self.removed["footnote_markers"] += 1
            else:
                self.buffer.append(text)
        elif tag in HEADINGS or tag in BLOCKS:
            self.flush()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        (self.link if self.link is not None else self.buffer).append(data)

    def text(self) -> list[str]:
        self.close()
        self.flush()
        return self.paragraphs


def read_member(archive: zipfile.ZipFile, name: str, what: str, limit: int) -> bytes:
    """One member's bytes, inflated at most `limit + 1` bytes far: a chapter that inflates to gigabytes from a
    small EPUB (a zip bomb) is never held whole. KeyError when it is missing."""
    try:
        with archive.open(name) as member:
            data = member.read(limit + 1)
    except KeyError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, zlib.error) as e:
        raise MalformedRecord("bad_epub", f"{what} {name!r} cannot be read from the zip: {e}") from None
    if len(data) > limit:
        declared = archive.getinfo(name).file_size
        raise MalformedRecord(
            "too_large",
            f"{what} {name!r} inflates to more than max_record_bytes={limit} bytes (the zip declares {declared}): "
            "a zip bomb, or a book too large for one record",
        )
    return data


def _xml(archive: zipfile.ZipFile, name: str, what: str, limit: int):
    try:
        return parse_bytes(read_member(archive, name, what, limit))
    except KeyError:
        raise MalformedRecord("bad_epub", f"{what} {name!r} is missing from the EPUB") from None
    except MalformedRecord:
        raise
    except (UnsafeXML, Exception) as e:  # ParseError, UnsafeXML
        raise MalformedRecord("bad_epub", f"{what} {name!r} cannot be parsed: {e}") from None


def check_not_encrypted(archive: zipfile.ZipFile, limit: int) -> None:
    """DRM-protected EPUBs list their encrypted chapters in META-INF/encryption.xml (obfuscated fonts are listed
    there too, and are harmless): reading ciphertext as XHTML would make garbage, so such a book is quarantined."""
    if "META-INF/encryption.xml" not in archive.namelist():
        return
    encryption = _xml(archive, "META-INF/encryption.xml", "encryption list", limit)
    uris = [e.get("URI") or "" for e in encryption.iter() if local_name(e.tag) == "CipherReference"]
    texts = [u for u in uris if u.lower().endswith((".xhtml", ".html", ".htm", ".xml"))]
    if texts:
        raise MalformedRecord(
            "encrypted_epub",
            f"{len(texts)} chapter file(s) are encrypted (DRM), e.g. {texts[0]}: only DRM-free EPUBs can be read",
        )


def epub_to_markdown(data: bytes, removed: Counter, limit: int = 64 * 2**20) -> str:
    """The book's chapters in spine order as Markdown text (see module docstring). Each member is inflated at most
    `limit` bytes far, and so is the text of all chapters together (`too_large` past it)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise MalformedRecord("bad_epub", f"not a zip archive ({e}): an EPUB is a zip of XHTML files") from None
    with archive:
        check_not_encrypted(archive, limit)
        container = _xml(archive, "META-INF/container.xml", "container", limit)
        rootfile = next((e.get("full-path") for e in container.iter() if local_name(e.tag) == "rootfile"), None)
        if not rootfile:
            raise MalformedRecord("bad_epub", "META-INF/container.xml names no <rootfile full-path=...>")
        package = _xml(archive, rootfile, "package document", limit)
        base = posixpath.dirname(rootfile)
        items = {}
        nav_ids = set()
        for item in (e for e in package.iter() if local_name(e.tag) == "item"):
            items[item.get("id")] = item
            if "nav" in (item.get("properties") or "").split():
                nav_ids.add(item.get("id"))
        spine = next((e for e in package.iter() if local_name(e.tag) == "spine"), None)
        if spine is None:
            raise MalformedRecord("bad_epub", f"{rootfile}: no <spine> (the reading order)")
        toc_id = spine.get("toc")
        chapters: list[str] = []
        total = 0
        for ref in (e for e in spine if local_name(e.tag) == "itemref"):
            idref = ref.get("idref")
            if idref in nav_ids or idref == toc_id:
                removed["navigation"] += 1
                continue
            if (ref.get("linear") or "yes").lower() == "no":
                removed["nonlinear_items"] += 1
                continue
            item = items.get(idref)
            if item is None or not item.get("href"):
                removed["missing_spine_items"] += 1
                continue
            path = posixpath.normpath(posixpath.join(base, unquote(item.get("href"))))
            try:
                raw = read_member(archive, path, "chapter", limit)
            except KeyError:
                removed["missing_spine_items"] += 1
                continue
            parser = ChapterText(removed)
            parser.feed(raw.decode("utf-8", errors="replace"))
            del raw
            paragraphs = parser.text()
            if paragraphs:
                chapters.append("\n\n".join(paragraphs))
                removed["chapters"] += 1
                total += len(chapters[-1])
                if total > limit:
                    raise MalformedRecord(
                        "too_large", f"the chapters' text passes max_record_bytes={limit} characters at {path!r}"
                    )
    if not chapters:  # say so, rather than an empty book
        raise MalformedRecord(
            "no_text_in_epub", f"{rootfile}: no text in the spine's chapters (an image-only or scanned EPUB?)"
        )
    return "\n\n".join(chapters)
