"""`read.pmc_jsonl`: PubMed Central full text already converted to JSON (lines, arrays or parquet), one document per
article: title, abstract, then the body paragraphs.

PMC-derived dumps publish the same content in a few layouts; each is found per row from the fields it has:

    flat text       `body` / `fulltext` / `full_text` / `text`: the body as one string (ir-datasets' pmc,
                    the pmc/open_access loader: `text`, `accession_id`, `pmid`, `license`)
    paragraphs      `paragraphs`: a list of strings, or of objects with `text` (and `section`/`title`)
    sections        `sections`: a list of objects with a `title`/`heading` and `text` or `paragraphs`
    IMRaD fields    `introduction`, `methods`, `results`, `discussion`, `conclusion` (the XML-parsed PMC dumps)
    BioC            `passages`: objects with `text` and `infons` (`section_type` / `type`: TITLE, ABSTRACT,
                    INTRO, ... ); a BioC document's title and abstract come from its passages; tables, figures
                    and references (`TABLE`, `FIG`, `REF`, `COMP_INT`, `ACK_FUND`, `AUTH_CONT`, `SUPPL`) are left out

Ids: the PMID (`pmid`), else the PMCID (`pmcid`, `accession_id`, `pmc`, BioC's `id`; newer PMC articles often have
no PMID), else the DOI, else the row's own `id`; a row with none of them is quarantined (`missing_field`, naming
the fields looked at); an id that is a boolean, a list or an object is quarantined (`bad_field`). The
licence is the row's `license` / `license_type` (BioC: `infons.license`), else the recipe's. A row without a title
is quarantined; one without abstract and body text is dropped (`no_text`).
"""

from __future__ import annotations

from typing import Any

from corpusforge.io.input_records import DropRecord, MalformedRecord, ParsedRecord, RawRecord
from corpusforge.pipeline.licenses import license_id
from corpusforge.pipeline.readers.structured import RecordsReader
from corpusforge.pipeline.registry import register

PMID_FIELDS = ("pmid", "PMID", "pubmed_id")
PMCID_FIELDS = ("pmcid", "PMCID", "accession_id", "pmc_id", "pmc")
DOI_FIELDS = ("doi", "DOI")
TITLE_FIELDS = ("title", "article_title")
ABSTRACT_FIELDS = ("abstract",)
TEXT_FIELDS = ("body", "fulltext", "full_text", "text")
IMRAD_FIELDS = ("introduction", "methods", "results", "discussion", "conclusion")
LICENSE_FIELDS = ("license", "license_type", "licence")
BIOC_LEFT_OUT = {"TABLE", "FIG", "REF", "COMP_INT", "ACK_FUND", "AUTH_CONT", "SUPPL", "ABBR", "REVIEW_INFO"}


def first_value(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The first of `names` with a non-empty value in the row, else None."""
    for name in names:
        value = row.get(name)
        if value not in (None, "", [], {}):
            return value
    return None


def id_value(row: dict[str, Any], names: tuple[str, ...]) -> str | None:
    """An id field (text or a number; never a boolean, a list or an object), stripped; None when absent."""
    for name in names:
        value = row.get(name)
        if value in (None, "", [], {}):
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise MalformedRecord("bad_field", f"field {name!r} must be an id (text or a number)")
        return str(value).strip() or None
    return None


def as_text(value: Any, where: str) -> str:
    """A text field that may be a string or a list of strings (one per paragraph)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n\n".join(v.strip() for v in value if v.strip())
    raise MalformedRecord("bad_field", f"field {where!r} must be text or a list of texts, got {type(value).__name__}")


def normalized_pmcid(value: Any) -> str | None:
    text = str(value).strip() if value not in (None, "") else ""
    if not text:
        return None
    return text if text.upper().startswith("PMC") else f"PMC{text}"


@register("read.pmc_jsonl", kind="reader")
class PMCJsonlReader(RecordsReader):
    """PMC full text as JSON records (flat text, paragraphs, sections or BioC passages): title, abstract, body."""

    unit = "articles"

    def parse(self, record: RawRecord) -> ParsedRecord:
        row = self.row_of(record)
        if not isinstance(row, dict):
            raise MalformedRecord("bad_record", f"expected a JSON object, got {type(row).__name__}")
        infons = row.get("infons") if isinstance(row.get("infons"), dict) else {}
        passages = row.get("passages")
        title, abstract, body = "", "", []
        if isinstance(passages, list):  # BioC
            title, abstract, body = self.bioc_parts(passages)
        title = as_text(first_value(row, TITLE_FIELDS), "title") or title
        abstract = as_text(first_value(row, ABSTRACT_FIELDS), "abstract") or abstract
        if not body:
            body = self.body_parts(row)
        if not title:
            raise MalformedRecord(
                "missing_field", f"no title (looked at {', '.join(TITLE_FIELDS)} and BioC passages)"
            )
        pmid = id_value(row, PMID_FIELDS) or id_value(infons, ("article-id_pmid",))
        pmcid = normalized_pmcid(id_value(row, PMCID_FIELDS) or id_value(infons, ("article-id_pmc",)))
        own_id = id_value(row, ("id",))  # BioC's document id (the PMCID), or a dump's own id
        if pmcid is None and own_id and own_id.upper().startswith("PMC"):
            pmcid = own_id
        doi = id_value(row, DOI_FIELDS)
        record_id = pmid or pmcid or doi or own_id
        if not record_id:
            raise MalformedRecord(
                "missing_field",
                f"no article id: none of {', '.join(PMID_FIELDS + PMCID_FIELDS + DOI_FIELDS)}, id has a value",
            )
        if not abstract and not body:
            raise DropRecord("no_text")
        self.stat_update("articles_with_body" if body else "articles_without_body")
        stated = first_value(row, LICENSE_FIELDS) or infons.get("license")
        metadata: dict[str, Any] = {"pmid": pmid, "pmcid": pmcid, "doi": doi, "title": title}
        if stated:
            metadata["license"] = license_id(str(stated))
        return ParsedRecord(
            text="\n\n".join(p for p in [title, abstract, *body] if p),
            id=record_id,
            provenance={"pmid": pmid, "pmcid": pmcid} if pmid else {"pmcid": pmcid},
            metadata=metadata,
        )

    def body_parts(self, row: dict[str, Any]) -> list[str]:
        """The body's paragraphs, section titles on lines of their own, from whichever layout the row has."""
        if (paragraphs := row.get("paragraphs")) is not None:
            return self.paragraph_list(paragraphs, "paragraphs")
        if (sections := row.get("sections")) is not None:
            if not isinstance(sections, list):
                raise MalformedRecord("bad_field", "field 'sections' must be a list")
            parts: list[str] = []
            for i, section in enumerate(sections):
                if isinstance(section, str):
                    parts.append(section.strip())
                    continue
                if not isinstance(section, dict):
                    raise MalformedRecord("bad_field", f"sections[{i}] must be an object or text")
                heading = as_text(first_value(section, ("title", "heading", "section", "name")), f"sections[{i}]")
                content = section.get("paragraphs", section.get("text"))
                texts = (
                    self.paragraph_list(content, f"sections[{i}]")
                    if isinstance(content, list)
                    else [as_text(content, f"sections[{i}].text")]
                )
                if any(texts):
                    parts += [heading, *texts] if heading else texts
            return [p for p in parts if p]
        text = first_value(row, TEXT_FIELDS)
        if text is not None:
            return [as_text(text, next(f for f in TEXT_FIELDS if row.get(f) not in (None, "", [])))]
        return [as_text(row[f], f) for f in IMRAD_FIELDS if row.get(f)]

    @staticmethod
    def paragraph_list(value: Any, where: str) -> list[str]:
        """Paragraphs as strings or objects with `text` (a `section`/`title` starting a new section is shown)."""
        if not isinstance(value, list):
            raise MalformedRecord("bad_field", f"field {where!r} must be a list")
        parts: list[str] = []
        section = None
        for i, p in enumerate(value):
            if isinstance(p, str):
                text, heading = p.strip(), None
            elif isinstance(p, dict):
                text = as_text(p.get("text"), f"{where}[{i}].text")
                heading = first_value(p, ("section", "title", "heading"))
            else:
                raise MalformedRecord("bad_field", f"{where}[{i}] must be text or an object with 'text'")
            if heading and heading != section and isinstance(heading, str):
                parts.append(heading.strip())
                section = heading
            if text:
                parts.append(text)
        return parts

    @staticmethod
    def bioc_parts(passages: list[Any]) -> tuple[str, str, list[str]]:
        """(title, abstract, body paragraphs) of a BioC document's passages."""
        title, abstract, body = "", [], []
        for i, passage in enumerate(passages):
            if not isinstance(passage, dict):
                raise MalformedRecord("bad_field", f"passages[{i}] must be an object")
            infons = passage.get("infons") or {}
            section = str(infons.get("section_type") or "").upper()
            kind = str(infons.get("type") or "").lower()
            text = as_text(passage.get("text"), f"passages[{i}].text")
            if not text or section in BIOC_LEFT_OUT or kind in ("table", "fig_caption", "ref", "table_caption"):
                continue
            if section == "TITLE" or kind == "front":
                title = title or text
            elif section == "ABSTRACT" or kind.startswith("abstract"):
                abstract.append(text)
            else:
                body.append(text)
        return title, "\n\n".join(abstract), body
