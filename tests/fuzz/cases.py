"""Classes of bad input, each a function Spec -> Case (or None where the class does not apply to the layout).

A Case is the files to write and what must come out: exact counts, the reasons allowed, and a marker that the
quarantined raw input must contain (so the quarantine demonstrably keeps the bad record itself).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fuzz.specs import MAX_RECORD_BYTES, Spec

N_GOOD = 5
BAD_AT = 2
BAD_BYTES = b"\xff\xfe"
JSON_LINES = ("jsonl", "json_lines_in_json")
JSON_DOCS = ("json_array", "json_array_compact", "json_pretty_values", "json_keyed", "json_keyed_compact")
CSV_LIKE = ("csv", "csv_noheader", "tsv")


@dataclass
class Raw:
    """A record unit written exactly as these bytes (a line, an array element, a CSV line, a file)."""

    data: bytes


@dataclass
class Case:
    files: dict[str, bytes]
    records: int | None  # exact number of records the reader must count (None: unknown, e.g. a cut gzip)
    kept: int | None
    quarantined: int = 0
    dropped: int = 0
    files_quarantined: int | None = 0  # None: the rest of a cut file may be one record or a file (XML articles)
    reasons: set[str] = field(default_factory=set)  # at least one quarantine/drop reason among these
    marker: bytes | None = None  # must appear in some quarantined raw input
    location_keys: tuple[str, ...] = ()  # must appear in the marker's quarantine location
    never: bytes | None = None  # must appear in no kept text and no quarantine entry (a secret, an expansion)


# ---- writing records in a spec's layout ---------------------------------------------------------------------------
def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode("ascii").replace(b"@@BAD@@", BAD_BYTES)


def _unit(item: Any) -> bytes:
    return item.data if isinstance(item, Raw) else _json(item)


def write(spec: Spec, items: list[Any], layout: str | None = None) -> dict[str, bytes]:
    """The files holding `items` (good records or Raw units) in `layout` (default: the spec's own)."""
    layout = layout or spec.layout
    name = spec.file_name
    if layout in JSON_LINES:
        return {name: b"".join(_unit(i) + b"\n" for i in items)}
    if layout == "json_array":
        return {name: b"[\n" + b",\n".join(_unit(i) for i in items) + b"\n]\n"}
    if layout == "json_array_compact":
        return {name: b"[" + b",".join(_unit(i) for i in items) + b"]"}
    if layout == "json_pretty_values":
        pretty = [
            i.data if isinstance(i, Raw) else json.dumps(i, indent=2).encode().replace(b"@@BAD@@", BAD_BYTES)
            for i in items
        ]
        return {name: b"\n".join(pretty) + b"\n"}
    if layout in ("json_keyed", "json_keyed_compact"):
        sep = b",\n " if layout == "json_keyed" else b","
        members = [b'"%d": ' % (1000 + n) + _unit(i) for n, i in enumerate(items)]
        return {name: b"{" + sep.join(members) + b"}" + (b"\n" if layout == "json_keyed" else b"")}
    if layout in CSV_LIKE:
        out = io.StringIO()
        writer = csv.writer(out, delimiter="\t" if layout == "tsv" else ",", lineterminator="\n")
        if spec.header:
            writer.writerow(spec.header)
        data = out.getvalue().encode()
        for i in items:
            if isinstance(i, Raw):
                data += i.data + b"\n"
            else:
                out = io.StringIO()
                csv.writer(out, delimiter="\t" if layout == "tsv" else ",", lineterminator="\n").writerow(i)
                data += out.getvalue().encode().replace(b"@@BAD@@", BAD_BYTES)
        return {name: data}
    if layout == "text":
        stem, _, suffix = name.rpartition(".")
        return {
            f"{stem}{n}.{suffix}": i.data if isinstance(i, Raw) else i.encode().replace(b"@@BAD@@", BAD_BYTES)
            for n, i in enumerate(items)
        }
    if layout == "xml":
        from tests.pipeline.test_pubmed import HEADER, article

        body = b"".join(
            i.data if isinstance(i, Raw) else article(str(5000 + i), f"Title {i}").encode() for i in items
        )
        return {name: HEADER.encode() + body + b"</PubmedArticleSet>\n"}
    raise AssertionError(f"unknown layout {layout}")


def good(spec: Spec, n: int = N_GOOD) -> list[Any]:
    return [spec.good(i) for i in range(n)]


BAD_ID = 99  # the bad record's own index: its id differs from every good record's


def with_field(spec: Spec, value: Any, i: int = BAD_ID) -> Any:
    """Good record `i` with its text field set to `value` (a cell for CSV layouts)."""
    record = spec.good(i)
    key = spec.text_field
    if isinstance(record, list):
        record[key] = value
    elif isinstance(record.get(key), list):
        record[key] = [value] if not isinstance(value, (dict, list)) else value
    else:
        record[key] = value
    return record


def one_bad(spec: Spec, bad: Any, **expect: Any) -> Case:
    items = good(spec)
    items.insert(BAD_AT, bad)
    base = {"records": N_GOOD + 1, "kept": N_GOOD, "quarantined": 1}
    return Case(write(spec, items), **{**base, **expect})


def is_label(spec: Spec) -> bool:
    return spec.id.startswith("label.")


# ---- the classes --------------------------------------------------------------------------------------------------
def lone_surrogate(spec: Spec) -> Case | None:
    """A JSON "\\ud800" escape: valid JSON, not valid Unicode (pyarrow and orjson refuse it)."""
    if spec.text_field is None or spec.layout in CSV_LIKE + ("text", "xml"):
        return None
    return one_bad(
        spec,
        with_field(spec, "before \ud800 after"),
        reasons={"unencodable_text", "malformed_item"},
        marker=b"\\ud800",
    )


def lone_surrogate_key(spec: Spec) -> Case | None:
    """An object keyed by id whose key (the PMID) holds a lone surrogate: the id would reach the writer."""
    if not spec.layout.startswith("json_keyed"):
        return None
    items = good(spec, N_GOOD + 1)
    files = {k: v.replace(b'"%d": ' % (1000 + BAD_AT), b'"\\ud800": ', 1) for k, v in write(spec, items).items()}
    return Case(files, N_GOOD + 1, N_GOOD, 1, reasons={"unencodable_text", "malformed_item"})


def invalid_bytes(spec: Spec) -> Case | None:
    """Bytes that are not UTF-8 inside one record (a GBK or Latin-1 fragment)."""
    if spec.layout == "xml" or (spec.text_field is None and spec.layout != "text"):
        return None
    bad = (
        Raw(b"Chapter\n\nbefore " + BAD_BYTES + b" after\n")
        if spec.layout == "text"
        else with_field(spec, "x@@BAD@@y")
    )
    return one_bad(spec, bad, reasons={"bad_encoding", "bad_json", "bad_xml", "malformed_item"}, marker=BAD_BYTES)


def bom(spec: Spec) -> Case | None:
    """A UTF-8 byte order mark before the first record: the first record is still valid."""
    if spec.layout == "text":
        return None
    files = write(spec, good(spec))
    return Case({k: b"\xef\xbb\xbf" + v for k, v in files.items()}, N_GOOD, N_GOOD, 0)


def blank_rows(spec: Spec) -> Case | None:
    """Blank and whitespace-only lines (JSON lines: no record) and delimiter/tabs-only rows (CSV: a counted drop)."""
    if spec.layout in JSON_LINES:
        items = good(spec)
        items.insert(BAD_AT, Raw(b"   \n\t\t\n"))
        return Case(write(spec, items), N_GOOD, N_GOOD, 0)
    if spec.layout in CSV_LIKE:
        width = len(spec.header or spec.good(0))
        delimiter = b"\t" if spec.layout == "tsv" else b","
        items = good(spec)
        items.insert(BAD_AT, Raw(delimiter * (width - 1) + b"\n"))  # the empty line after it is no row
        return Case(write(spec, items), N_GOOD + 1, N_GOOD, 0, dropped=1, reasons={"blank_row"})
    return None


def boolean(spec: Spec) -> Case | None:
    """`true` where an id, a text or an answer belongs: to Python it is 1, but it is not a number or a text."""
    if spec.bool_field is None or spec.layout in CSV_LIKE:
        return None
    record = spec.good(BAD_ID)
    record[spec.bool_field] = True
    return one_bad(spec, record, marker=b"true")


def truncated_record(spec: Spec) -> Case | None:
    """A record cut off in the middle: one bad line (JSON lines, CSV open quote) or a JSON document that stops."""
    if spec.layout in JSON_LINES:
        return one_bad(spec, Raw(b'{"question": "cut off in the mid'), reasons={"bad_json", "malformed_item"},
                       marker=b"cut off in the mid", location_keys=("file",))  # fmt: skip
    if spec.layout in CSV_LIKE:
        delimiter = "\t" if spec.layout == "tsv" else ","
        width = len(spec.header or spec.good(0))
        line = delimiter.join(['"an unclosed quote', *["x"] * (width - 1)]).encode()
        if not spec.csv_quoting:  # a line is a row: the quote is a character of a valid row
            return one_bad(spec, Raw(line), kept=N_GOOD + 1, quarantined=0)
        return one_bad(spec, Raw(line), reasons={"bad_quoting"}, marker=b"an unclosed quote")
    if spec.layout in JSON_DOCS:
        items = good(spec, BAD_AT) + [Raw(b'{"QUESTION": "cut off in the mid')]
        if is_label(spec):  # the labeler keeps what it read and quarantines the rest as one entry
            return Case(write(spec, items), BAD_AT + 1, BAD_AT, 1, marker=b"cut off in the mid")
        return Case(write(spec, items), BAD_AT, BAD_AT, 0, files_quarantined=1, reasons={"bad_json"},
                    marker=b"cut off in the mid", location_keys=("line", "column", "size"))  # fmt: skip
    return None


def broken_first_line(spec: Spec) -> Case | None:
    """JSON lines whose first line is broken: still JSON lines (not one document), the first line quarantined."""
    if spec.layout not in JSON_LINES:
        return None
    items = [Raw(b'{"broken": first line'), *good(spec)]
    return Case(write(spec, items), N_GOOD + 1, N_GOOD, 1, marker=b"first line")


def broken_first_lines(spec: Spec) -> Case | None:
    """JSON lines whose first two lines are broken: no document parses, and most lines are whole objects."""
    if spec.layout not in JSON_LINES:
        return None
    items = [Raw(b'{"broken": first line'), Raw(b'{"broken": second line'), *good(spec)]
    return Case(write(spec, items), N_GOOD + 2, N_GOOD, 2, marker=b"second line")


def utf16_file(spec: Spec) -> Case | None:
    """A UTF-16 export (Excel, PowerShell) read as UTF-8: one file-level quarantine that names the encoding."""
    if spec.layout in ("xml", "text"):  # XML declares its encoding; a book is one record (quarantined per file)
        return None
    files = {k: v.decode("utf-8", "surrogateescape").encode("utf-16", "surrogatepass") for k, v in
             write(spec, good(spec)).items()}  # fmt: skip
    if any(b"@@BAD@@" in v for v in files.values()):
        return None
    return Case(files, 0, 0, 0, files_quarantined=1, reasons={"bad_encoding", "input_error"},
                marker=None, location_keys=())  # fmt: skip


def bad_xml_element(spec: Spec) -> Case | None:
    """One PubMed article with an undefined entity, one with an unclosed tag: the reader resynchronizes on the next
    article, so exactly those two are quarantined and every other article is read."""
    if spec.layout != "xml":
        return None
    from tests.pipeline.test_pubmed import article

    items = good(spec)
    entity = article("777", "Bad &nbsp; entity").encode()
    unclosed = article("778", "Unclosed <i>tag").encode()
    items[BAD_AT:BAD_AT] = [Raw(entity), Raw(unclosed)]
    return Case(write(spec, items), N_GOOD + 2, N_GOOD, 2, reasons={"bad_xml"}, marker=b"Unclosed <i>tag")


SECRET = b"corpusforge-fuzz-secret-7f3a"


def _xml_with_doctype(spec: Spec, doctype: str, body_entity: str, tmp_secret: bool = False) -> bytes:
    """A file of the spec's XML layout whose DOCTYPE declares entities and whose first record uses one."""
    if spec.layout == "xml":
        from tests.pipeline.test_pubmed import article

        articles = "".join(article(str(5000 + i), f"Title {i}") for i in range(N_GOOD))
        bad = article("779", f"Entity {body_entity} here")
        return (
            f'<?xml version="1.0"?>\n{doctype}\n<PubmedArticleSet>\n{bad}{articles}</PubmedArticleSet>\n'
        ).encode()
    text = spec.good(0).replace("Title 0", f"Title {body_entity}")
    return text.replace('<?xml version="1.0"?>\n', f'<?xml version="1.0"?>\n{doctype}\n').encode()


def xml_bomb(spec: Spec) -> Case | None:
    """Billion laughs: entities that expand to gigabytes. Never expanded; the reader answers at once."""
    if spec.layout not in ("xml",) and spec.id != "read.pmc_jats":
        return None
    root = "PubmedArticleSet" if spec.layout == "xml" else "article"
    levels = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    doctype = f'<!DOCTYPE {root} [<!ENTITY l0 "lol">{levels}]>'
    name = spec.file_name if spec.layout == "xml" else "PMC0.xml"
    counts = (N_GOOD + 1, N_GOOD, 1) if spec.layout == "xml" else (1, 0, 1)  # the article using it is quarantined
    return Case({name: _xml_with_doctype(spec, doctype, "&l9;")}, *counts, never=b"lollollollollollollol")


def xml_external_entity(spec: Spec) -> Case | None:
    """An entity naming a local file: never read into a record."""
    if spec.layout not in ("xml",) and spec.id != "read.pmc_jats":
        return None
    root = "PubmedArticleSet" if spec.layout == "xml" else "article"
    doctype = f'<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "file://@SECRET@">]>'
    name = spec.file_name if spec.layout == "xml" else "PMC0.xml"
    counts = (N_GOOD + 1, N_GOOD, 1) if spec.layout == "xml" else (1, 0, 1)
    return Case({name: _xml_with_doctype(spec, doctype, "&xxe;")}, *counts, never=SECRET)


def empty_file(spec: Spec) -> Case:
    """A 0-byte file: a file-level quarantine, never a record."""
    name = spec.file_name if spec.layout != "text" else spec.file_name.replace(".", "0.")
    return Case({name: b""}, 0, 0, 0, files_quarantined=1, reasons={"empty_file", "input_error"})


def truncated_gzip(spec: Spec) -> Case | None:
    """A gzip file cut in half: what was readable is kept, the rest is a file-level quarantine."""
    if is_label(spec) or spec.id == "instruct.pubmedqa_labels":
        return None
    files = write(spec, good(spec, 40))
    cut = {f"{name}.gz": gzip.compress(data)[: len(gzip.compress(data)) // 2] for name, data in files.items()}
    if spec.layout == "xml":  # the reader keeps the article it was in when the file broke, as a record
        return Case(cut, None, None, 0, files_quarantined=None, reasons={"unreadable_file"})
    return Case(cut, None, None, 0, files_quarantined=len(cut), reasons={"unreadable_file"})


def not_a_record(spec: Spec) -> Case | None:
    """JSON values that are not objects where a record belongs: an array, a string, a number, null."""
    if spec.layout not in JSON_LINES + JSON_DOCS or spec.id.startswith("read.kg_triples"):
        return None
    items = good(spec)
    bad = [Raw(b"[1, 2]"), Raw(b'"just text"'), Raw(b"42"), Raw(b"null")]
    items[BAD_AT:BAD_AT] = bad
    return Case(write(spec, items), N_GOOD + len(bad), N_GOOD, len(bad))


def deep_nesting(spec: Spec) -> Case | None:
    """A line nested 100,000 levels deep: Python's JSON parser recurses; the record is quarantined, no crash."""
    if spec.layout not in JSON_LINES:
        return None
    return one_bad(spec, Raw(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"), marker=b"[[[[")


def wrong_type(spec: Spec) -> Case | None:
    """An object where text belongs."""
    if spec.text_field is None or spec.layout in CSV_LIKE:
        return None
    return one_bad(spec, with_field(spec, {"nested": ["x"]}), marker=b"nested")


def too_large(spec: Spec) -> Case | None:
    """A record over max_record_bytes."""
    if is_label(spec) or spec.layout == "xml" or (spec.text_field is None and spec.layout != "text"):
        return None
    huge = "word " * (MAX_RECORD_BYTES // 4)
    bad = Raw(huge.encode()) if spec.layout == "text" else with_field(spec, huge)
    return one_bad(spec, bad, reasons={"too_large"}, marker=b"word word")


def odd_but_valid_text(spec: Spec) -> Case | None:
    """Valid Unicode that trips naive code: NUL, controls, noncharacters, line separators, an emoji, a mid-text
    BOM. Kept: none of it is invalid, and writers accept it."""
    if spec.text_field is None or spec.layout in ("xml", "text"):
        return None
    value = "odd \x00\x07 \ufffe\uffff \u2028 \U0001f600 \ufeff text"
    items = good(spec)
    items.insert(BAD_AT, with_field(spec, value))
    return Case(write(spec, items), N_GOOD + 1, N_GOOD + 1, 0)


def not_json(spec: Spec) -> Case | None:
    """A .json file that is no JSON layout at all: quarantined as a file, with the parser's line and column."""
    if not spec.file_name.endswith(".json"):
        return None
    return Case({spec.file_name: b"this is not JSON\nat all\n"}, 0, 0, 0, files_quarantined=1,
                reasons={"bad_json", "input_error"}, marker=None if is_label(spec) else b"this is not JSON",
                location_keys=() if is_label(spec) else ("line", "column"))  # fmt: skip


CLASSES: dict[str, Callable[[Spec], Case | None]] = {
    f.__name__: f
    for f in (
        lone_surrogate,
        lone_surrogate_key,
        invalid_bytes,
        bom,
        blank_rows,
        boolean,
        truncated_record,
        broken_first_line,
        broken_first_lines,
        bad_xml_element,
        xml_bomb,
        xml_external_entity,
        empty_file,
        utf16_file,
        truncated_gzip,
        not_a_record,
        deep_nesting,
        wrong_type,
        too_large,
        odd_but_valid_text,
        not_json,
    )
}


def layout_cases(spec: Spec) -> dict[str, Case]:
    """The same good records in every other layout the spec reads: the same records must come out."""
    return {
        f"layout_{layout}": Case(write(spec, good(spec), layout), N_GOOD, N_GOOD, 0) for layout in spec.json_layouts
    }
