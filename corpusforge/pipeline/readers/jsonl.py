"""`read.jsonl`: documents that are already text, one JSON object per line (e.g. a crawl or an earlier build)."""

from __future__ import annotations

from corpusforge.io.input_records import ParsedRecord, RawRecord
from corpusforge.pipeline.readers.base import ReaderParams, SourceReader
from corpusforge.pipeline.registry import register


@register("read.jsonl", kind="reader")
class JsonlTextReader(SourceReader):
    """JSON lines with a text field (names mapped in the recipe); other listed fields are kept as metadata."""

    default_glob = "*.jsonl*"

    class Params(ReaderParams):
        text_field: str = "text"
        id_field: str | None = "id"
        """none: ids are <file>:<line>"""
        keep_fields: list[str] = []
        """fields copied into the document's metadata (and the output's `meta`)"""

    def __init__(self, *args, text_field: str = "text", id_field: str | None = "id", keep_fields=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.text_field = text_field
        self.id_field = id_field
        self.keep_fields = list(keep_fields)

    def parse(self, record: RawRecord) -> ParsedRecord:
        data = self.parse_json(self.decode(record.raw))
        text = self.require(data, self.text_field)
        location = record.location
        record_id = str(self.require(data, self.id_field)) if self.id_field else None
        doc_id = record_id or f"{location['file']}:{location['line']}"
        return ParsedRecord(
            text=text,
            id=doc_id,
            provenance={"record_id": record_id} if record_id else {},
            metadata={k: data[k] for k in self.keep_fields if k in data},
        )
