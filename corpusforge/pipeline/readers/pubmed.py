"""PubMed abstracts: the MEDLINE/PubMed baseline XML files (.xml, .xml.gz) and JSON lines.

The baseline files (https://ftp.ncbi.nlm.nih.gov/pubmed/baseline/, ~30k articles each) are one
`PubmedArticleSet` of `PubmedArticle` elements, with `DeleteCitation` blocks in the update files. They are streamed
with iterparse and every finished article is cleared, so memory stays flat however large the file.

A document is the title, a blank line and the abstract; a structured abstract (AbstractText elements with a Label
attribute) becomes one "LABEL: text" paragraph per section. An article without a PMID or a title is quarantined,
an article without an abstract is dropped (`no_abstract`), and the PMIDs listed in DeleteCitation blocks are
counted (`delete_citation_pmids`) but are not records: they carry no article. PubmedBookArticle elements
(Bookshelf chapters, a few hundred per baseline) are records dropped as `book_article`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any, BinaryIO, Literal

from corpusforge.pipeline.readers.base import (
    DropRecord,
    MalformedRecord,
    ParsedRecord,
    RawRecord,
    ReaderParams,
    SourceReader,
)
from corpusforge.pipeline.readers.records import RecordsReader
from corpusforge.pipeline.registry import register

ARTICLE_TAGS = ("PubmedArticle", "PubmedBookArticle")


_XML_CHUNK = 1 << 16


def xml_events(f: BinaryIO) -> Iterator[tuple[str, ET.Element]]:
    """(event, element) pairs of a stream, fed in chunks with `read1` so that a truncated .gz still gives up
    every article before the break (a plain `read` of a large block loses the block when the stream ends early)."""
    parser = ET.XMLPullParser(events=("start", "end"))
    read = getattr(f, "read1", f.read)
    while chunk := read(_XML_CHUNK):
        parser.feed(chunk)
        yield from parser.read_events()
    parser.close()
    yield from parser.read_events()


def element_text(element: ET.Element | None) -> str:
    """All text inside an element, inline markup (<i>, <sup>, MathML) flattened, whitespace collapsed."""
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())


def abstract_paragraphs(article: ET.Element) -> list[str]:
    """The abstract's sections, "LABEL: text" when the section is labelled (structured abstracts)."""
    paragraphs = []
    for section in article.iterfind("Abstract/AbstractText"):
        text = element_text(section)
        if not text:
            continue
        label = (section.get("Label") or "").strip()
        paragraphs.append(f"{label}: {text}" if label else text)
    return paragraphs


@register("read.pubmed_xml", kind="reader")
class PubMedXMLReader(SourceReader):
    """PubMed/MEDLINE baseline XML (.xml/.xml.gz): one document per PubmedArticle with an abstract."""

    name = "read.pubmed_xml"
    default_glob = "**/*.xml*"

    class Params(ReaderParams):
        type: Literal["read.pubmed_xml"] = "read.pubmed_xml"

    def iter_raw(self, filepath: str) -> Iterator[RawRecord]:
        """One RawRecord per PubmedArticle (its XML bytes); what is left of a broken file carries its error."""
        file = self.display_path(filepath)
        index = 0
        current: ET.Element | None = None
        root: ET.Element | None = None
        with self.data_folder.open(filepath, "rb", compression="infer") as f:
            try:
                for event, element in xml_events(f):
                    if root is None:
                        root = element
                    if event == "start":
                        if element.tag in ARTICLE_TAGS:
                            current = element
                        continue
                    if element.tag in ARTICLE_TAGS:
                        index += 1
                        pmid = element.findtext("MedlineCitation/PMID") or element.findtext("BookDocument/PMID")
                        location = {"file": file, "element": index, "pmid": pmid.strip() if pmid else None}
                        yield RawRecord(ET.tostring(element, encoding="utf-8"), location)
                        current = None
                        root.clear()  # drop the finished article (and its cleared predecessors) from the tree
                    elif element.tag == "DeleteCitation":
                        self.stat_update("delete_citation_pmids", value=len(element.findall("PMID")))
                        root.clear()
            except (ET.ParseError, EOFError, OSError) as e:
                index += 1
                raw = ET.tostring(current, encoding="utf-8") if current is not None else b""
                pmid = current.findtext("MedlineCitation/PMID") if current is not None else None
                reason = "bad_xml" if isinstance(e, ET.ParseError) else "unreadable_file"
                yield RawRecord(
                    raw,
                    {"file": file, "element": index, "pmid": pmid},
                    error=MalformedRecord(reason, f"{type(e).__name__}: {e} (rest of the file skipped)"),
                )

    def parse(self, record: RawRecord) -> ParsedRecord:
        try:
            article = ET.fromstring(record.raw)
        except ET.ParseError as e:
            raise MalformedRecord("bad_xml", f"unparseable PubmedArticle: {e}") from None
        if article.tag == "PubmedBookArticle":
            raise DropRecord("book_article")  # NCBI Bookshelf records: book chapters, not journal abstracts
        citation = article.find("MedlineCitation")
        if citation is None:
            raise MalformedRecord("missing_field", "no MedlineCitation element")
        pmid = (citation.findtext("PMID") or "").strip()
        if not pmid:
            raise MalformedRecord("missing_field", "no PMID")
        body = citation.find("Article")
        title = element_text(body.find("ArticleTitle") if body is not None else None)
        if not title:
            raise MalformedRecord("missing_field", f"PMID {pmid}: no ArticleTitle")
        paragraphs = abstract_paragraphs(body)
        if not paragraphs:
            raise DropRecord("no_abstract")
        sections = [s.get("NlmCategory") or s.get("Label") for s in body.iterfind("Abstract/AbstractText")]
        metadata: dict[str, Any] = {"pmid": pmid}
        if any(sections):
            metadata["abstract_sections"] = [s or "" for s in sections]
        return ParsedRecord(
            text=f"{title}\n\n" + "\n".join(paragraphs), id=pmid, provenance={"pmid": pmid}, metadata=metadata
        )


@register("read.pubmed_jsonl", kind="reader")
class PubMedJSONLReader(RecordsReader):
    """PubMed abstracts as JSON lines (or a JSON array) with pmid/title/abstract fields (names mappable)."""

    name = "read.pubmed_jsonl"

    class Params(ReaderParams):
        type: Literal["read.pubmed_jsonl"] = "read.pubmed_jsonl"
        pmid_field: str = "pmid"
        title_field: str = "title"
        abstract_field: str = "abstract"

    def __init__(
        self,
        *args: Any,
        pmid_field: str = "pmid",
        title_field: str = "title",
        abstract_field: str = "abstract",
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.pmid_field = pmid_field
        self.title_field = title_field
        self.abstract_field = abstract_field

    def parse(self, record: RawRecord) -> ParsedRecord:
        row = self.row_of(record)
        pmid = str(self.require(row, self.pmid_field, (str, int), allow_empty=False)).strip()
        title = self.require(row, self.title_field, str, allow_empty=False).strip()
        abstract = row.get(self.abstract_field)
        if isinstance(abstract, list):  # abstracts kept as a list of sections
            abstract = "\n".join(str(a) for a in abstract if a)
        if abstract is not None and not isinstance(abstract, str):
            raise MalformedRecord("bad_field", f"field {self.abstract_field!r} must be text")
        if not abstract or not abstract.strip():
            raise DropRecord("no_abstract")
        return ParsedRecord(
            text=f"{title}\n\n{abstract.strip()}", id=pmid, provenance={"pmid": pmid}, metadata={"pmid": pmid}
        )
