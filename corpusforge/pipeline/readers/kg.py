"""`read.kg_triples`: knowledge-graph triples from TSV, CSV or JSONL files, one document per triple.

Open medical knowledge graphs (OMAHA, CMeKG, ...) are published as triples: a head entity, a relation and a tail
entity, often with entity types. Which column or JSON field holds which part is set in the recipe (`columns`);
CSV/TSV files either start with a header row naming the columns, or (`header: false`) the columns are given by
position. Each triple becomes a Document with text `head<TAB>relation<TAB>tail` and `metadata["triple"]`; it is
`kg.subgraphs` that turns triples into prose.

Quarantined (raw line kept): a row with the wrong number of columns (`bad_columns`), an empty head, relation or
tail (`missing_field`), bad JSON (`bad_json`), a CSV row with broken quoting (`bad_csv`), bad encoding
(`bad_encoding`), rows of a file whose header lacks a mapped column (`bad_header`, every row of that file, so the
counts still add up). CSV fields may be quoted but may not contain line breaks (rows are read line by line).
`relation_names` maps published relation values (codes such as `DM`) to readable names.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import model_validator

from corpusforge.config import StrictModel
from corpusforge.io.input_records import MalformedRecord, ParsedRecord, RawRecord
from corpusforge.pipeline.readers.base import ReaderParams, SourceReader
from corpusforge.pipeline.readers.books import book_suffix, relative_id
from corpusforge.pipeline.registry import register

TRIPLE_PARTS = ("head", "relation", "tail")
TYPE_PARTS = ("head_type", "tail_type")
FORMAT_BY_SUFFIX = {".tsv": "tsv", ".tab": "tsv", ".txt": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

TripleFormat = Literal["tsv", "csv", "jsonl"]


class TripleColumns(StrictModel):
    """Where each part of a triple is: a column name (header row / JSON field) or a 0-based column position."""

    head: str | int | None = None
    relation: str | int | None = None
    tail: str | int | None = None
    head_type: str | int | None = None
    tail_type: str | int | None = None

    def resolved(self, by_position: bool) -> dict[str, str | int]:
        """The mapping with defaults filled in: names head/relation/tail, or positions 0/1/2 without a header."""
        defaults = dict(zip(TRIPLE_PARTS, (0, 1, 2))) if by_position else {p: p for p in TRIPLE_PARTS}
        mapping = {part: getattr(self, part) for part in TRIPLE_PARTS + TYPE_PARTS}
        return {
            part: defaults[part] if value is None and part in defaults else value
            for part, value in mapping.items()
            if value is not None or part in defaults
        }


@register("read.kg_triples", kind="reader")
class KGTriplesReader(SourceReader):
    """Knowledge-graph triples (TSV / CSV / JSONL), one document per triple."""

    unit = "triples"

    class Params(ReaderParams):
        format: Literal["auto", "tsv", "csv", "jsonl"] = "auto"  # auto: from the suffix (.tsv .csv .jsonl ...)
        header: bool = True  # CSV/TSV: the first line names the columns; false: `columns` are positions
        columns: TripleColumns = TripleColumns()
        delimiter: str | None = None  # CSV only; default ","
        # relation values as published -> the names templates and text use, e.g. PharmacotherapyDB's categories
        # {DM: disease_modifying_treatment_for, SYM: symptomatic_treatment_for, NOT: not_indicated_for}; the
        # published value is kept in the triple as `relation_code`
        relation_names: dict[str, str] = {}

        @model_validator(mode="after")
        def _columns_match_header(self):
            values = {k: v for k, v in self.columns.model_dump().items() if v is not None}
            if self.format == "jsonl" or self.header:
                bad = [k for k, v in values.items() if isinstance(v, int)]
                if bad:
                    raise ValueError(f"columns.{bad[0]}: a position needs `header: false` (CSV/TSV without header)")
            else:
                bad = [k for k, v in values.items() if isinstance(v, str)]
                if bad:
                    raise ValueError(f"columns.{bad[0]}: without a header row, columns are 0-based positions")
            return self

    def __init__(
        self,
        *args,
        format: str = "auto",
        header: bool = True,
        columns: TripleColumns | dict[str, Any] | None = None,
        delimiter: str | None = None,
        relation_names: dict[str, str] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.relation_names = dict(relation_names or {})
        self.format = format
        self.header = header
        self.columns = columns if isinstance(columns, TripleColumns) else TripleColumns(**(columns or {}))
        self.delimiter = delimiter or ","
        # per file, set by iter_raw before the file's rows are parsed
        self._file_format: TripleFormat = "tsv"
        self._positions: dict[str, int] = {}
        self._width = 0
        self._header_problem: str | None = None
        self._file_id = ""

    # ---- cutting a file into rows -----------------------------------------------------------------------------
    def file_format(self, filepath: str) -> TripleFormat:
        if self.format != "auto":
            return self.format  # type: ignore[return-value]
        suffix = book_suffix(filepath)
        if suffix not in FORMAT_BY_SUFFIX:
            known = ", ".join(sorted(FORMAT_BY_SUFFIX))
            raise ValueError(f"cannot tell the format of {filepath!r} from its suffix ({known}); set `format:`")
        return FORMAT_BY_SUFFIX[suffix]  # type: ignore[return-value]

    def iter_raw(self, filepath: str) -> Iterator[RawRecord]:
        self._file_format = self.file_format(filepath)
        self._file_id = relative_id(self.display_path(filepath), self.display_root)
        self._header_problem = None
        lines = self.iter_lines(filepath, blank_rows=self._file_format != "jsonl")  # a tabs-only row is counted
        if self._file_format == "jsonl":
            yield from lines
            return
        if self.header:
            first = next(lines, None)
            if first is None:
                return
            self._read_header(first)
        else:
            self._positions = {k: v for k, v in self.columns.resolved(by_position=True).items()}  # type: ignore[misc]
            self._width = max(self._positions.values()) + 1
        yield from lines

    def _read_header(self, record: RawRecord) -> None:
        """Map the configured column names to positions; a problem quarantines every row of the file."""
        try:
            names = [n.strip().removeprefix("\ufeff").strip() for n in self.split_row(self.decode(record.raw))]
        except MalformedRecord as e:
            self._header_problem = f"header line {record.location.get('line')}: {e.detail}"
            return
        wanted = self.columns.resolved(by_position=False)
        for part in TYPE_PARTS:  # type columns named head_type / tail_type are used unless mapped otherwise
            if part not in wanted and part in names:
                wanted[part] = part
        missing = [f"{part}={name!r}" for part, name in wanted.items() if name not in names]
        if missing:
            self._header_problem = (
                f"header line {record.location.get('line')} has no column {', '.join(missing)} "
                f"(columns: {', '.join(names)}); set `columns:` in the recipe"
            )
            return
        self._positions = {part: names.index(name) for part, name in wanted.items()}  # type: ignore[arg-type]
        self._width = len(names)

    def split_row(self, line: str) -> list[str]:
        if self._file_format == "tsv":
            return line.split("\t")
        try:
            return next(csv.reader([line], delimiter=self.delimiter, strict=True))
        except csv.Error as e:
            raise MalformedRecord("bad_csv", f"CSV row cannot be parsed: {e}") from None

    # ---- one row into a triple ---------------------------------------------------------------------------------
    def parse(self, record: RawRecord) -> ParsedRecord:
        if self._header_problem:
            raise MalformedRecord("bad_header", self._header_problem)
        text = self.decode(record.raw).removeprefix("\ufeff")
        triple = self.json_triple(text) if self._file_format == "jsonl" else self.row_triple(text)
        if triple["relation"] in self.relation_names:
            triple["relation_code"] = triple["relation"]
            triple["relation"] = self.relation_names[triple["relation"]]
        return ParsedRecord(
            text="\t".join(triple[p] for p in TRIPLE_PARTS),
            id=f"{self._file_id}:{record.location['line']}",
            metadata={"triple": triple},
        )

    def row_triple(self, line: str) -> dict[str, str]:
        cells = self.split_row(line)
        if len(cells) != self._width:
            raise MalformedRecord("bad_columns", f"expected {self._width} columns, found {len(cells)}")
        return self.checked({part: cells[pos] for part, pos in self._positions.items()})

    def json_triple(self, line: str) -> dict[str, str]:
        data = self.parse_json(line)
        fields = self.columns.resolved(by_position=False)
        triple = {}
        for part, name in fields.items():
            if part in TRIPLE_PARTS or isinstance(data, dict) and data.get(str(name)) is not None:
                triple[part] = self.require(data, str(name))
        return self.checked(triple)

    @staticmethod
    def checked(triple: dict[str, str]) -> dict[str, str]:
        """Strip the parts; an empty head, relation or tail is malformed; empty types are left out."""
        out = {}
        for part, value in triple.items():
            value = value.strip()
            if value:
                out[part] = value
            elif part in TRIPLE_PARTS:
                raise MalformedRecord("missing_field", f"empty {part}")
        return out
