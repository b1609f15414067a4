"""PubMed abstracts: the MEDLINE/PubMed baseline XML files (.xml, .xml.gz) and JSON lines.

The baseline files (https://ftp.ncbi.nlm.nih.gov/pubmed/baseline/, ~30k articles each) are one
`PubmedArticleSet` of `PubmedArticle` elements, with `DeleteCitation` blocks in the update files.

A file is cut into articles at the byte level (`ArticleScanner`): each `<PubmedArticle>...</PubmedArticle>` is
one record holding its own bytes and byte range, parsed once, on its own, by `parse`. So a bad article (an unclosed
tag, an entity such as `&nbsp;` that XML does not define, a truncated end) is quarantined with its bytes and byte
range and reading goes on at the next article start: an article with no end tag before the next start ends there,
and no record hides behind another. Bytes between articles that are not the file's envelope (XML declaration,
DOCTYPE, comments, the PubmedArticleSet tags) are quarantined as `unexpected_content`. Entities are never
expanded and nothing outside the file is ever read: articles are parsed without the DOCTYPE, so any entity other
than XML's five is an error of that article. A file in which no article is found at all is a file-level
quarantine (`files_quarantined_no_articles`) naming the file and its root element. Memory stays flat: one article (and a read buffer) at a time.

A document is the title, a blank line and the abstract; a structured abstract (AbstractText elements with a Label
attribute) becomes one "LABEL: text" paragraph per section. An article without a PMID or a title is quarantined,
an article without an abstract is dropped (`no_abstract`), and the PMIDs listed in DeleteCitation blocks are
counted (`delete_citation_pmids`) but are not records: they carry no article. PubmedBookArticle elements
(Bookshelf chapters, a few hundred per baseline) are records dropped as `book_article`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from corpusforge.io.input_records import DropRecord, MalformedFile, MalformedRecord, ParsedRecord, RawRecord
from corpusforge.pipeline.readers.base import SourceReader
from corpusforge.pipeline.readers.structured import RecordsReader
from corpusforge.pipeline.registry import register

ARTICLE_TAGS = ("PubmedArticle", "PubmedBookArticle")
BLOCK_TAGS = (*ARTICLE_TAGS, "DeleteCitation")

_READ_SIZE = 1 << 20
_BLOCK_START = re.compile(rb"<(PubmedArticle|PubmedBookArticle|DeleteCitation)(?=[\s>/])")
_BLOCK_OR_COMMENT = re.compile(rb"<!--|<(PubmedArticle|PubmedBookArticle|DeleteCitation)(?=[\s>/])")
_BLOCK_END = {tag: re.compile(rb"</" + tag.encode() + rb"\s*>") for tag in BLOCK_TAGS}
_TAIL = 32  # bytes kept back at a buffer's end: a start or end tag may be cut between two reads
# what may stand between articles: whitespace, a BOM, the XML declaration and other processing instructions,
# the DOCTYPE (its internal subset is never used: entities are not expanded), comments, the PubmedArticleSet tags
_ENVELOPE_PART = re.compile(
    rb"\s+|\xef\xbb\xbf|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>|</?PubmedArticleSet(?:\s[^>]*)?>",
    re.DOTALL,
)
_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_DECLARED_ENCODING = re.compile(rb"<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']")
_PMID = re.compile(rb"<PMID[^>]*>\s*([^<\s]+)\s*</PMID>")
_QUARANTINE_SAMPLE = 1 << 16  # raw bytes kept of content that is not an article (a whole non-PubMed file...)


@dataclass
class ArticleRecord(RawRecord):
    """One block of a PubMed XML file: its bytes, where it was (`byte_range`, in the decompressed stream) and the
    file's declared encoding."""

    byte_range: tuple[int, int] = (0, 0)
    encoding: str | None = None


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


class ArticleScanner:
    """Cuts a PubMed XML byte stream into blocks (articles, DeleteCitations) and the content between them.

    Yields `Block`s in stream order: a block element with its end tag (kind "PubmedArticle", ...); one cut short
    (kind "unclosed": at the next block start or at the end of the stream); one longer than `max_block_bytes`
    ("oversized": its first `max_block_bytes` bytes, the rest read past, never held whole); and "gap":
    content between blocks that is not the file's envelope (its bytes kept up to _QUARANTINE_SAMPLE); a comment
    is envelope, whatever it holds (a commented-out article is no record). `root` and
    `encoding` are what the file's first bytes declare; `read_error` is why reading stopped early, if it did."""

    def __init__(self, stream: BinaryIO, max_block_bytes: int):
        self.read = getattr(stream, "read1", stream.read)
        self.max_block_bytes = max_block_bytes
        self.root: str | None = None
        self.encoding: str | None = None
        self.read_error: Exception | None = None
        self.size = 0
        self.head = b""  # the stream's first bytes (kept for a file that holds no article)
        self._buf = b""
        self._base = 0  # stream offset of _buf[0]
        self._eof = False

    def _more(self) -> bool:
        """Append the next read to the buffer; False at the end of the stream (or when it cannot be read on)."""
        if not self._eof:
            try:
                chunk = self.read(_READ_SIZE)
            except (EOFError, OSError, ValueError, zlib.error) as e:  # a truncated .gz, a bad gzip header
                self.read_error, chunk = e, b""
            if chunk:
                if len(self.head) < _QUARANTINE_SAMPLE:
                    self.head += chunk[: _QUARANTINE_SAMPLE - len(self.head)]
                    self._sniff(self.head[:4096])
                self._buf += chunk
                return True
            self._eof = True
            self.size = self._base + len(self._buf)
        return False

    def _drop(self, upto: int) -> None:
        self._buf, self._base = self._buf[upto:], self._base + upto

    def _sniff(self, head: bytes) -> None:
        for match in _ROOT.finditer(head):
            name = match.group(1).decode("ascii", "replace")
            if name != "DOCTYPE":
                self.root = name
                break
        declared = _DECLARED_ENCODING.search(head[:200])
        if declared:
            self.encoding = declared.group(1).decode("ascii")

    def __iter__(self) -> Iterator[Block]:
        gap = Gap(0)
        pos = 0
        while True:
            match = _BLOCK_OR_COMMENT.search(self._buf, pos)
            if match is not None and match.group() == b"<!--":
                close = self._buf.find(b"-->", match.end())
                if close != -1:  # a whole comment: part of the gap, skipped
                    gap.add(self._buf[pos : close + 3])
                    pos = close + 3
                    continue
                if len(self._buf) - match.start() <= self.max_block_bytes and not self._eof:
                    gap.add(self._buf[pos : match.start()])  # read on until the comment closes
                    self._drop(match.start())
                    pos = 0
                    self._more()
                    continue
                gap.add(self._buf[pos:])  # a comment that never closes: not envelope, quarantined as content
                pos = len(self._buf)
                continue
            if match is None:
                keep = max(pos, len(self._buf) - _TAIL)  # a start tag may be cut at the buffer's end
                gap.add(self._buf[pos:keep])
                self._drop(keep)
                pos = 0
                if not self._more():
                    gap.add(self._buf)
                    if gap.odd:
                        yield Block("gap", gap.start, self.size, gap.sample, "")
                    return
                continue
            start, tag = match.start(), match.group(1).decode()
            # the block ends at its end tag, or (unclosed) at the next block start, whichever comes first
            end = _BLOCK_END[tag].search(self._buf, match.end())
            following = _BLOCK_START.search(self._buf, match.end(), end.start() if end else len(self._buf))
            if end is None and following is None and len(self._buf) - start <= self.max_block_bytes:
                gap.add(self._buf[pos:start])
                self._drop(start)
                pos = 0
                if self._more():
                    continue
                start = 0
            gap.add(self._buf[pos:start])
            if gap.odd:
                yield Block("gap", gap.start, self._base + start, gap.sample, "")
            if following is not None:
                block_end, kind, cut = following.start(), "unclosed", "the next article"
            elif end is not None:
                block_end, kind, cut = end.end(), tag, ""
            elif self._eof:
                block_end, kind, cut = len(self._buf), "unclosed", "the end of the file"
            else:
                block = self._read_past(start, match.end(), tag)
                yield block
                pos = block.end - self._base
                gap = Gap(block.end)
                continue
            yield Block(kind, self._base + start, self._base + block_end, self._buf[start:block_end], cut, tag)
            pos = block_end
            gap = Gap(self._base + block_end)

    def _read_past(self, start: int, search_from: int, tag: str) -> Block:
        """A block over `max_block_bytes`: keep its head, read on (dropping what was read) to its end tag or the
        next block start, and return it as one "oversized" (or "unclosed") block with its true byte range."""
        origin = self._base + start
        head = self._buf[start : start + self.max_block_bytes]
        while True:
            end = _BLOCK_END[tag].search(self._buf, search_from)
            following = _BLOCK_START.search(self._buf, search_from, end.start() if end else len(self._buf))
            if following is not None:
                return Block("unclosed", origin, self._base + following.start(), head, "the next article", tag)
            if end is not None:
                return Block("oversized", origin, self._base + end.end(), head, "", tag)
            keep = max(search_from, len(self._buf) - _TAIL)
            self._drop(keep)
            search_from = 0
            if not self._more():
                return Block("unclosed", origin, self._base + len(self._buf), head, "the end of the file", tag)


@dataclass
class Block:
    kind: str  # a block tag, "unclosed" or "gap"
    start: int
    end: int
    raw: bytes
    cut: str  # unclosed: what cut it short
    tag: str = ""


class Gap:
    """Content between two blocks: where it starts, its first bytes, and whether it is more than the envelope."""

    def __init__(self, start: int):
        self.start = start
        self.sample = b""
        self.size = 0

    def add(self, piece: bytes) -> None:
        self.size += len(piece)
        if len(self.sample) < _QUARANTINE_SAMPLE:
            self.sample += piece[: _QUARANTINE_SAMPLE - len(self.sample)]

    @property
    def odd(self) -> bool:
        if not self.size:
            return False
        if self.size > len(self.sample):
            return True  # larger than any envelope
        pos = 0
        while pos < len(self.sample):
            part = _ENVELOPE_PART.match(self.sample, pos)
            if part is None:
                return True
            pos = part.end()
        return False


@register("read.pubmed_xml", kind="reader")
class PubMedXMLReader(SourceReader):
    """PubMed/MEDLINE baseline XML (.xml/.xml.gz): one document per PubmedArticle with an abstract."""

    eval_id_keys = True  # its documents carry ids decontam.eval_sets compares (PMID, source id, question)

    default_glob = "**/*.xml*"

    def iter_raw(self, filepath: str) -> Iterator[RawRecord]:
        """One ArticleRecord per article; content that is no article, or a file without any, as broken records."""
        file = self.display_path(filepath)
        index = blocks = 0
        leading_gap: ArticleRecord | None = None  # content before the first block: junk, or a file with no articles
        with self.open_input(filepath) as f:
            scanner = ArticleScanner(f, self.max_record_bytes)
            for block in scanner:
                record = ArticleRecord(
                    block.raw,
                    {"file": file, "element": None, "pmid": None},
                    byte_range=(block.start, block.end),
                    encoding=scanner.encoding,
                )
                if block.kind == "gap":
                    detail = (
                        f"bytes {block.start}-{block.end} between articles are neither an article nor the envelope"
                    )
                    if len(block.raw) < block.end - block.start:
                        detail += f" (first {len(block.raw)} bytes kept)"
                    record.error = MalformedRecord("unexpected_content", detail)
                    if not blocks:
                        leading_gap = record
                        continue
                elif block.kind == "DeleteCitation":
                    blocks += 1
                    self.stat_update("delete_citation_pmids", value=len(_PMID.findall(block.raw)))
                    continue
                else:
                    blocks += 1
                    pmid = _PMID.search(block.raw)
                    record.location["pmid"] = pmid.group(1).decode("utf-8", "replace") if pmid else None
                    if block.kind == "unclosed":
                        record.error = self.unclosed_error(block, scanner)
                    elif block.kind == "oversized":
                        record.error = MalformedRecord(
                            "too_large",
                            f"<{block.tag}> at bytes {block.start}-{block.end} has {block.end - block.start} bytes, "
                            f"over max_record_bytes={self.max_record_bytes} (its first {len(block.raw)} kept)",
                        )
                if leading_gap is not None:
                    index += 1
                    leading_gap.location["element"] = index
                    yield leading_gap
                    leading_gap = None
                index += 1
                record.location["element"] = index
                yield record
        if scanner.read_error is not None and blocks:
            # a stream cut short: its last article is quarantined above; the file itself is said to be incomplete
            # (a file-level entry: a manifest warning, and --strict fails), nothing more of it can be read
            error = f"{type(scanner.read_error).__name__}: {scanner.read_error}"
            raise MalformedFile(
                "truncated_file",
                f"the file ends early after {scanner.size} decompressed bytes ({error}); get a complete copy",
                location={"offset": scanner.size},
                raw=b"",
            )
        if not blocks:  # nothing recognized: the file is quarantined as a file, never a silent "0 records"
            root = f"<{scanner.root}>" if scanner.root else "none (not XML)"
            detail = f"no PubmedArticle element in {scanner.size} bytes; root element: {root}"
            if scanner.read_error is not None:
                detail += f"; reading stopped: {type(scanner.read_error).__name__}: {scanner.read_error}"
            location = {"root": scanner.root, "bytes": [0, scanner.size]}
            raise MalformedFile("no_articles", detail, location=location, raw=scanner.head)

    @staticmethod
    def unclosed_error(block: Block, scanner: ArticleScanner) -> MalformedRecord:
        detail = f"<{block.tag}> at bytes {block.start}-{block.end} has no </{block.tag}> before {block.cut}"
        if scanner.read_error is not None and block.cut == "the end of the file":
            error = f"{type(scanner.read_error).__name__}: {scanner.read_error}"
            return MalformedRecord("unreadable_file", f"{detail} ({error}; rest of the file skipped)")
        return MalformedRecord("bad_xml", detail)

    def to_quarantine(self, record: RawRecord, error: MalformedRecord) -> None:
        """Quarantine records of this reader also say where the bytes were (`bytes`: [start, end) of the file,
        decompressed)."""
        if isinstance(record, ArticleRecord):
            record.location = {**record.location, "bytes": list(record.byte_range)}
        super().to_quarantine(record, error)

    def parse(self, record: RawRecord) -> ParsedRecord:
        encoding = getattr(record, "encoding", None)
        try:
            parser = ET.XMLParser(encoding=encoding) if encoding else ET.XMLParser()
            parser.feed(record.raw)
            article = parser.close()
        except ET.ParseError as e:
            where = getattr(record, "byte_range", None)
            at = f" (bytes {where[0]}-{where[1]})" if where else ""
            raise MalformedRecord("bad_xml", f"unparseable {record_tag(record.raw)}{at}: {e}") from None
        except LookupError:
            raise MalformedRecord("bad_encoding", f"unknown encoding {encoding!r} declared by the file") from None
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


def record_tag(raw: bytes | str) -> str:
    """The element a raw block starts with, for messages ("PubmedArticle")."""
    head = raw[:40].encode() if isinstance(raw, str) else raw[:40]
    found = _ROOT.match(head)
    return found.group(1).decode("ascii", "replace") if found else "element"


@register("read.pubmed_jsonl", kind="reader")
class PubMedJSONLReader(RecordsReader):
    """PubMed abstracts as JSON lines (or a JSON array) with pmid/title/abstract fields (names mappable); a row
    without a PMID but with a PMCID (`pmcid_field`: PMC-derived rows) is read under its PMCID."""

    eval_id_keys = True  # its documents carry ids decontam.eval_sets compares (PMID, source id, question)

    def __init__(
        self,
        *args: Any,
        pmid_field: str = "pmid",
        title_field: str = "title",
        abstract_field: str = "abstract",
        pmcid_field: str = "pmcid",
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.pmid_field = pmid_field
        self.title_field = title_field
        self.abstract_field = abstract_field
        self.pmcid_field = pmcid_field

    def parse(self, record: RawRecord) -> ParsedRecord:
        row = self.row_of(record)
        pmcid = row.get(self.pmcid_field) if isinstance(row, dict) else None
        if isinstance(row, dict) and row.get(self.pmid_field) in (None, "") and pmcid not in (None, ""):
            pmid = None
            record_id = str(self.require(row, self.pmcid_field, (str, int), allow_empty=False)).strip()
            record_id = record_id if record_id.upper().startswith("PMC") else f"PMC{record_id}"
        else:
            pmid = record_id = str(self.require(row, self.pmid_field, (str, int), allow_empty=False)).strip()
        title = self.require(row, self.title_field, str, allow_empty=False).strip()
        abstract = row.get(self.abstract_field)
        if isinstance(abstract, list):  # abstracts kept as a list of sections
            abstract = "\n".join(str(a) for a in abstract if a)
        if abstract is not None and not isinstance(abstract, str):
            raise MalformedRecord("bad_field", f"field {self.abstract_field!r} must be text")
        if not abstract or not abstract.strip():
            raise DropRecord("no_abstract")
        ids = {"pmid": pmid} if pmid else {"pmcid": record_id}
        return ParsedRecord(text=f"{title}\n\n{abstract.strip()}", id=record_id, provenance=ids, metadata=ids)
