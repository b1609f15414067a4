"""`read.pmc_jats`: PubMed Central full text in JATS XML, one document per article.

PMC's open-access packages and its OAI/efetch services deliver articles as JATS (NLM) XML: one `<article>` per
file, or several inside a `<pmc-articleset>`; the packages themselves (`.tar.gz`: the bulk baselines and the
per-article packages) are read member by member without unpacking them (give the package as `path`, or
`glob: "**/*.tar.gz"`). A document is the article's title, its abstract and its body, section
by section with the section titles on lines of their own, in document order:

    front   ids (`article-id` by `pub-id-type`: pmid, pmc/pmcid, doi), title, journal, year, the main abstract
            (structured abstracts keep their section titles; graphical / teaser abstracts are left out)
    body    paragraphs, lists, boxed text and quotes of each `sec`, nested sections in order
    dropped tables (`table-wrap`), figures (`fig`), formulas (`disp-formula`, `inline-formula`), numbered citation
            markers (`xref ref-type="bibr"` such as "[3]", with the brackets and commas they leave; an author-year
            citation's text is kept: in "(Singh et al. <xref>2015</xref>)" the xref holds the year, and dropping
            it would leave "(Singh et al.)"), supplementary material, and from
            `back`: references, acknowledgements, footnotes, notes and appendices. The recipe's `keep:` list
            brings back any of tables, figures, formulas, citations, references, supplementary, acknowledgements.

The id is the PMID, or the PMCID when the article has none (newer PMC articles often do not), or the DOI. Parsing
refuses entity declarations and external entities (see corpusforge/io/safe_xml.py). What cannot be used is
quarantined, never silently skipped: a file that is not well-formed (`bad_xml`, with expat's line and column), one
that declares entities (`unsafe_xml`), one with no `<article>` at all (`no_article`, naming the root element found,
e.g. a PubMed `PubmedArticleSet` handed to this reader), and an article without `front/article-meta` or a title
(`missing_field`). An article with no abstract and no body text is dropped (`no_text`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from corpusforge.io.input_records import DropRecord, MalformedRecord, ParsedRecord, RawRecord
from corpusforge.io.safe_xml import UnsafeXML, local_name, parse_bytes
from corpusforge.pipeline.licenses import license_id
from corpusforge.pipeline.readers.base import ReaderParams, SourceReader
from corpusforge.pipeline.registry import register

Keepable = Literal["tables", "figures", "formulas", "citations", "references", "supplementary", "acknowledgements"]
ARTICLE_SETS = {"pmc-articleset", "articles", "OAI-PMH", "GetRecord", "ListRecords", "record", "metadata"}
MAIN_ABSTRACT_TYPES = {None, "", "summary", "structured", "abstract", "author"}
BLOCK_TAGS = {"p", "list", "boxed-text", "disp-quote", "def-list", "statement", "verse-group", "speech"}
BACK_KINDS = {"app-group": "appendices", "app": "appendices", "notes": "notes", "glossary": "glossary"}
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
JATS_MEMBER_SUFFIXES = (".xml", ".nxml")
MEMBER_SEPARATOR = "::"  # provenance of an article inside a package: `PACKAGE.tar.gz::MEMBER.xml`
CITATION_MARK = "\x01"
EMPTY_BRACKETS_RE = re.compile(rf"\s*[(\[]\s*(?:{CITATION_MARK}[\s,;–\-]*)+[)\]]")
CITATION_RUN_RE = re.compile(rf"\s*{CITATION_MARK}(?:[\s,;–\-]*{CITATION_MARK})*")
# an author-year citation's xref text: a year ("2015", "2015a", "in press") or names with a year ("Smith et al.,
# 2015"); a numbered one ("3", "3–5", "[3]", "S1") has no four-digit year
AUTHOR_YEAR_RE = re.compile(r"(?:^|\D)(?:1[5-9]|20)\d\d[a-z]?(?:\D|$)|\bin press\b", re.IGNORECASE)


def formula_text(element: ET.Element) -> str:
    """An inline formula as plain text: its MathML tokens in order (no TeX annotation), else its TeX."""
    math = next((e for e in element.iter() if local_name(e.tag) == "math"), None)
    if math is not None:
        tokens: list[str] = []

        def walk(e: ET.Element) -> None:
            if local_name(e.tag) in ("annotation", "annotation-xml"):
                return
            tokens.append(e.text or "")
            for c in e:
                walk(c)
                tokens.append(c.tail or "")

        walk(math)
        return " ".join("".join(tokens).split())
    tex = next((e for e in element.iter() if local_name(e.tag) == "tex-math"), None)
    return " ".join((tex.text or "").split()) if tex is not None else " ".join("".join(element.itertext()).split())


def is_author_year(xref: ET.Element) -> bool:
    """Whether a `bibr` xref is (part of) an author-year citation, whose text belongs to the sentence."""
    return bool(AUTHOR_YEAR_RE.search("".join(xref.itertext()).strip()))


def children(element: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in element if local_name(c.tag) == name]


def child(element: ET.Element | None, path: str) -> ET.Element | None:
    """A descendant by a `/`-separated path of local names (namespace-proof `find`)."""
    current = element
    for name in path.split("/"):
        if current is None:
            return None
        current = next((c for c in current if local_name(c.tag) == name), None)
    return current


@dataclass
class ArticleRecord(RawRecord):
    """One `<article>` with its parsed element (the raw bytes are what quarantine keeps)."""

    element: ET.Element | None = None


class JatsText:
    """Renders JATS elements as text, leaving out what `keep` does not name (see the module docstring)."""

    def __init__(self, keep: set[str]):
        self.keep = keep
        self.removed: dict[str, int] = {}
        self.author_year_kept = 0  # author-year citations whose text stays in the sentence

    def _count(self, kind: str) -> None:
        self.removed[kind] = self.removed.get(kind, 0) + 1

    def skip_kind(self, element: ET.Element) -> str | None:
        """The kind of a dropped element (tables, figures, ...), or None when it is rendered."""
        name = local_name(element.tag)
        kind = {
            "table-wrap": "tables",
            "table-wrap-group": "tables",
            "table": "tables",
            "fig": "figures",
            "fig-group": "figures",
            "graphic": "figures",
            "inline-graphic": "figures",
            "media": "figures",
            "disp-formula": "formulas",
            "supplementary-material": "supplementary",
            "fn": "footnotes",
            "fn-group": "footnotes",
            "ref-list": "references",
            "ack": "acknowledgements",
        }.get(name)
        if name == "xref" and element.get("ref-type") == "bibr":
            kind = "citations"
        if name == "sec" and (element.get("sec-type") or "").startswith("supplementary"):
            kind = "supplementary"
        if kind is None or kind in self.keep:
            return None
        return kind

    def inline(self, element: ET.Element) -> str:
        """All text inside an element, dropped kinds left out (a citation leaves a mark cleaned up later)."""
        parts = [element.text or ""]
        for c in element:
            kind = self.skip_kind(c)
            if local_name(c.tag) in ("inline-formula", "math", "tex-math"):
                parts.append(formula_text(c))  # part of the sentence: "features F1, F2 and F3 are ..."
            elif kind is None:
                parts.append(
                    self.inline(c) if local_name(c.tag) != "label" or local_name(element.tag) != "fig" else ""
                )
            elif kind == "citations" and is_author_year(c):
                self.author_year_kept += 1
                parts.append(" ".join("".join(c.itertext()).split()))
            else:
                self._count(kind)
                if kind == "citations":
                    parts.append(CITATION_MARK)
            parts.append(c.tail or "")
        return "".join(parts)

    @staticmethod
    def tidy(text: str) -> str:
        text = EMPTY_BRACKETS_RE.sub("", text)
        text = CITATION_RUN_RE.sub("", text)
        text = " ".join(text.split())
        return re.sub(r"\s+([.,;:)\]])", r"\1", text).replace("( ", "(")

    def blocks(self, element: ET.Element, depth: int = 0) -> Iterator[str]:
        """Paragraph-level text of a section-like element, in order; nested sections with their titles."""
        for c in element:
            name = local_name(c.tag)
            kind = self.skip_kind(c)
            if kind is not None:
                self._count(kind)
                continue
            if name in ("title", "label", "sec-meta", "object-id"):
                continue
            if name in ("sec", "app", "boxed-text", "glossary", "ack", "ref-list", "app-group"):
                title = self.tidy(self.inline(child(c, "title"))) if child(c, "title") is not None else ""
                if title:
                    yield title
                if name == "ref-list":
                    yield from (
                        t
                        for ref in c.iter()
                        if local_name(ref.tag) in ("mixed-citation", "element-citation")
                        if (t := self.tidy(self.inline(ref)))
                    )
                    continue
                yield from self.blocks(c, depth + 1)
            elif name == "list":
                items = [self.tidy(" ".join(self.blocks(item, depth + 1))) for item in children(c, "list-item")]
                text = "\n".join(f"- {i}" for i in items if i)
                if text:
                    yield text
            elif name in ("table-wrap", "fig"):  # kept by `keep:`: caption, then the table's rows
                yield from self.caption_and_table(c)
            elif name in ("disp-formula",):
                tex = child(c, "tex-math")
                text = self.tidy(tex.text or "" if tex is not None else self.inline(c))
                if text:
                    yield text
            elif name in BLOCK_TAGS or len(c):
                if name not in BLOCK_TAGS and any(local_name(g.tag) in BLOCK_TAGS | {"sec"} for g in c):
                    yield from self.blocks(c, depth + 1)
                    continue
                text = self.tidy(self.inline(c))
                if text:
                    yield text
            else:
                text = self.tidy(self.inline(c))
                if text:
                    yield text

    def caption_and_table(self, element: ET.Element) -> Iterator[str]:
        for name in ("label", "caption"):
            part = child(element, name)
            if part is not None and (text := self.tidy(" ".join(self.blocks(part)) or self.inline(part))):
                yield text
        for row in (r for r in element.iter() if local_name(r.tag) == "tr"):
            cells = [self.tidy(self.inline(cell)) for cell in row if local_name(cell.tag) in ("td", "th")]
            if any(cells):
                yield " | ".join(cells)


@register("read.pmc_jats", kind="reader")
class PMCJatsReader(SourceReader):
    """PubMed Central full text (JATS XML): one document per article, title + abstract + body sections."""

    unit = "articles"
    default_glob = "**/*.*xml*"

    class Params(ReaderParams):
        keep: list[Keepable] = []  # what to keep of what is dropped by default (tables, figures, formulas, ...)
        abstract: bool = True  # the abstract before the body
        body: bool = True  # false: title and abstract only

    def __init__(self, *args, keep: list[str] | None = None, abstract: bool = True, body: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.keep = set(keep or [])
        self.abstract = abstract
        self.body = body

    # ---- a file into articles -----------------------------------------------------------------------------------
    def iter_raw(self, filepath: str) -> Iterator[RawRecord]:
        file = self.display_path(filepath)
        if filepath.lower().endswith(TAR_SUFFIXES):
            yield from self.iter_tar(filepath, file)
            return
        with self.open_input(filepath) as f:
            data = f.read(self.max_record_bytes + 1)
        yield from self.file_records(data, file)

    def iter_tar(self, filepath: str, file: str) -> Iterator[RawRecord]:
        """PMC's packages, streamed member by member: the bulk baselines (`oa_comm_xml.PMC00xxxxxxx.baseline.*.tar.gz`,
        one JATS file per article) and the per-article packages (`PMC1234567.tar.gz`: the `.nxml` with its figures
        and PDF). Members that are not XML are not records: counted (`tar_members_not_xml`), not read."""
        import tarfile

        with (
            self.open_input(filepath) as f,
            tarfile.open(fileobj=f, mode="r|*") as tar,
        ):
            for member in tar:
                if not member.isfile():
                    continue
                if not member.name.lower().endswith(JATS_MEMBER_SUFFIXES):
                    self.stat_update("tar_members_not_xml")
                    continue
                stream = tar.extractfile(member)
                data = stream.read(self.max_record_bytes + 1) if stream is not None else b""
                yield from self.file_records(data, f"{file}{MEMBER_SEPARATOR}{member.name}")

    def file_records(self, data: bytes, file: str) -> Iterator[RawRecord]:
        """One XML file's articles (at most `max_record_bytes + 1` of it in `data`), or why it has none."""
        location: dict[str, Any] = {"file": file}
        if len(data) > self.max_record_bytes:
            yield RawRecord(data, location)  # the base quarantines it as too_large
            return
        try:
            root = parse_bytes(data)
        except ET.ParseError as e:
            line, column = e.position
            yield RawRecord(
                data,
                location,
                MalformedRecord("bad_xml", f"not well-formed XML at line {line}, column {column}: {e}"),
            )
            return
        except UnsafeXML as e:
            yield RawRecord(data, location, MalformedRecord("unsafe_xml", str(e)))
            return
        articles = self.articles(root)
        if not articles:
            yield RawRecord(
                data,
                location,
                MalformedRecord(
                    "no_article",
                    f"no JATS <article> in this file: its root element is <{local_name(root.tag)}> "
                    "(read.pmc_jats reads PMC full text; PubMed abstracts are read by read.pubmed_xml)",
                ),
            )
            return
        for index, article in enumerate(articles):
            yield ArticleRecord(ET.tostring(article), {"file": file, "element": index}, element=article)

    @staticmethod
    def articles(root: ET.Element) -> list[ET.Element]:
        if local_name(root.tag) == "article":
            return [root]
        if local_name(root.tag) in ARTICLE_SETS:
            return [e for e in root.iter() if local_name(e.tag) == "article"]
        return []

    # ---- an article into a document -----------------------------------------------------------------------------
    def parse(self, record: RawRecord) -> ParsedRecord:
        article = getattr(record, "element", None)
        if article is None:
            raise MalformedRecord("bad_xml", "no parsed article")
        meta = child(article, "front/article-meta")
        if meta is None:
            raise MalformedRecord("missing_field", "no <front>/<article-meta> in <article>")
        ids = {(e.get("pub-id-type") or "").lower(): (e.text or "").strip() for e in children(meta, "article-id")}
        pmid = ids.get("pmid") or None
        pmcid = ids.get("pmcid") or ids.get("pmc") or ids.get("pmc-uid") or ids.get("pmcaid") or None
        if pmcid and not pmcid.upper().startswith("PMC"):
            pmcid = f"PMC{pmcid}"
        doi = ids.get("doi") or None
        renderer = JatsText(self.keep)
        title_el = child(meta, "title-group/article-title")
        title = renderer.tidy(renderer.inline(title_el)) if title_el is not None else ""
        if not title:
            raise MalformedRecord("missing_field", "no <article-title>")
        record_id = pmid or pmcid or doi
        if not record_id:
            raise MalformedRecord("missing_field", "no <article-id> of type pmid, pmc or doi")
        parts = [title]
        abstract = self.abstract_text(meta, renderer) if self.abstract else []
        parts += abstract
        body_el = child(article, "body")
        body = list(renderer.blocks(body_el)) if self.body and body_el is not None else []
        parts += body
        back = child(article, "back")
        if back is not None and self.body:
            for c in back:  # back matter is left out, but for what `keep:` names
                kind = renderer.skip_kind(c)
                if kind is None and local_name(c.tag) in ("ack", "ref-list"):
                    parts += list(renderer.blocks(ET_wrap(c)))
                else:
                    renderer._count(kind or BACK_KINDS.get(local_name(c.tag), "back_matter"))
        if not abstract and not body:
            raise DropRecord("no_text")
        for kind, n in renderer.removed.items():
            self.stat_update(f"removed_{kind.replace('-', '_')}", value=n)
        if renderer.author_year_kept:
            self.stat_update("citations_author_year_kept", value=renderer.author_year_kept)
        self.stat_update("articles_with_body" if body else "articles_without_body")
        year = child(meta, "pub-date/year")
        return ParsedRecord(
            text="\n\n".join(parts),
            id=record_id,
            provenance={"pmid": pmid, "pmcid": pmcid},
            metadata={
                "pmid": pmid,
                "pmcid": pmcid,
                "doi": doi,
                "title": title,
                "journal": renderer.tidy(renderer.inline(j))
                if (j := child(article, "front/journal-meta/journal-title-group/journal-title")) is not None
                else None,
                "year": (year.text or "").strip() if year is not None else None,
                "article_type": article.get("article-type"),
                "license": article_license(meta),
                "sections": [
                    renderer.tidy(renderer.inline(t))
                    for s in (body_el if body_el is not None else [])
                    if local_name(s.tag) == "sec"
                    and renderer.skip_kind(s) is None
                    and (t := child(s, "title")) is not None
                ],
            },
        )

    @staticmethod
    def abstract_text(meta: ET.Element, renderer: JatsText) -> list[str]:
        """The main abstract (the first without a graphical/teaser type), its section titles kept."""
        for abstract in children(meta, "abstract"):
            if abstract.get("abstract-type") in MAIN_ABSTRACT_TYPES:
                return list(renderer.blocks(abstract))
        return []


def article_license(meta: ET.Element) -> str:
    """The article's licence id from `permissions/license`: the machine-readable `ali:license_ref` first, then the
    element's `xlink:href` and `license-type`, the links in its text, its text ("Creative Commons Attribution
    (CC BY) license"); `unknown` when the article states none (see corpusforge/pipeline/licenses.py)."""
    permissions = child(meta, "permissions")
    statements: list[str | None] = []
    for lic in children(permissions, "license") if permissions is not None else []:
        statements += [e.text for e in lic.iter() if local_name(e.tag).split(":")[-1] == "license_ref"]
        statements += [v for k, v in lic.attrib.items() if local_name(k) == "href"]
        statements += [v for e in lic.iter() for k, v in e.attrib.items() if local_name(k) == "href"]
        statements.append(" ".join("".join(lic.itertext()).split()))
        statements.append(lic.get("license-type"))
    return license_id(*statements)


def ET_wrap(element: ET.Element) -> ET.Element:  # noqa: N802 - mirrors ET.Element
    """A parent around one element, so `blocks` renders the element itself (its title included)."""
    parent = ET.Element("wrap")
    parent.append(element)
    return parent
