"""What every instruction adapter shares: file layouts, task ids, templates, and turning a record into a Document.

An adapter is a SourceReader (see corpusforge/pipeline/readers/base.py): it cuts files into raw records and parses
each into one complete instruction record (schemas/instruction.schema.json), carried as
`Document(text=flat_text(record), metadata={"record": record, ...})`. Malformed rows raise MalformedRecord and are
quarantined and counted by the base class; rows that are well-formed but unusable for training are dropped with a
counted reason (raise `DroppedRecord(reason)`: counted as `dropped_<reason>`, like a filter's drop).

File layouts (chosen by file name, so one adapter reads a source in every layout it is published in):
- `.jsonl`, `.ndjson` (optionally compressed): one JSON object per line;
- `.json`: JSON lines (MedMCQA and PromptCBLUE ship JSON lines named .json), a JSON array of objects, or one
  object keyed by id (the original PubMedQA layout) - told apart by content, see `iter_json`;
- `.csv`: rows with a header (CMExam) or without (MMLU, `csv_header: false`), read with the `encoding` parameter;
- `.parquet`: rows (the Hub layouts).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any, ClassVar

from corpusforge.errors import ConfigError
from corpusforge.formats.multiple_choice import MCQuestion
from corpusforge.instruct.record import Language, flat_text, make_record, record_errors
from corpusforge.instruct.render import Target, UnknownTemplate, load_template, render_mc, render_qa
from corpusforge.instruct.tasks import UnknownTask, resolve_task_id
from corpusforge.pipeline.readers.base import MalformedRecord, ParsedRecord, RawRecord, ReaderParams, SourceReader
from corpusforge.pipeline.registry import BuildContext


class DroppedRecord(Exception):
    """A well-formed record that is deliberately not used (e.g. a PubMedQA item without a label)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


_DROP_MARK = "__corpusforge_dropped__"


class InstructParams(ReaderParams):
    """Options every instruction adapter accepts (on top of path/glob/encoding/limit)."""

    task: str | None = None
    task_id: int | None = None
    language: Language | None = None
    system_prompt: str | None = None


class MCParams(InstructParams):
    """Options of multiple-choice adapters: which template renders them and what the target looks like."""

    template: str | None = None
    target: Target = "sentence"
    with_explanation: bool = False


def file_kind(filepath: str) -> str:
    """`jsonl`, `json`, `csv` or `parquet`, from the name (compression suffixes ignored)."""
    suffixes = [s.lower() for s in PurePath(filepath).suffixes if s.lower() not in (".gz", ".bz2", ".zst", ".xz")]
    last = suffixes[-1] if suffixes else ""
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet"}.get(
        last, "jsonl"
    )


class InstructReader(SourceReader):
    """Base of the instruction adapters. Subclasses set the defaults below and implement `parse_row`."""

    Params: ClassVar[type[InstructParams]] = InstructParams
    default_task: ClassVar[str] = ""
    default_language: ClassVar[Language] = "en"
    default_template: ClassVar[str] = "qa"
    csv_header: ClassVar[bool] = True

    def __init__(
        self,
        path: str,
        source: str,
        quarantine_dir=None,
        task: str | None = None,
        task_id: int | None = None,
        task_table: dict[str, int] | None = None,
        language: Language | None = None,
        system_prompt: str | None = None,
        template: str | None = None,
        target: Target = "sentence",
        with_explanation: bool = False,
        **reader_kwargs,
    ):
        super().__init__(path, source, quarantine_dir=quarantine_dir, **reader_kwargs)
        self.task = task or self.default_task or source
        self.task_id = task_id
        self.task_table = task_table
        self.language: Language = language or self.default_language
        self.system_prompt = system_prompt
        self.template = template or self.default_template
        self.target: Target = target
        self.with_explanation = with_explanation
        try:
            load_template(self.template)
            if task_id is None and "/" not in self.task:
                resolve_task_id(self.task, task_table)
        except (UnknownTemplate, UnknownTask) as e:
            raise ConfigError(f"sources.{source}.reader: {e.args[0]}") from None

    @classmethod
    def from_params(cls, params: InstructParams, ctx: BuildContext) -> InstructReader:
        kwargs = params.model_dump(exclude={"type"})
        return cls(
            source=ctx.source, quarantine_dir=ctx.quarantine_dir, task_table=ctx.extra.get("task_ids"), **kwargs
        )

    # ---- layouts -------------------------------------------------------------------------------------------------
    def iter_raw(self, filepath: str) -> Iterator[RawRecord]:
        kind = file_kind(filepath)
        if kind == "json":
            yield from self.iter_json(filepath)
        elif kind == "csv":
            yield from self.iter_csv(filepath)
        elif kind == "parquet":
            yield from self.iter_parquet(filepath)
        else:
            yield from self.iter_lines(filepath)

    def iter_json(self, filepath: str) -> Iterator[RawRecord]:
        """A `.json` file: JSON lines when its first line is a whole object, else one array or one keyed object."""
        with self.data_folder.open(filepath, "rb", compression="infer") as f:
            first = f.readline()
        stripped = first.strip()
        if stripped.startswith(b"{") and _is_json_object(stripped):
            yield from self.iter_lines(filepath)
            return
        file = self.display_path(filepath)
        with self.data_folder.open(filepath, "rb", compression="infer") as f:
            data = self.parse_json(self.decode(f.read()))
        if isinstance(data, list):
            for i, item in enumerate(data):
                yield RawRecord(json.dumps(item, ensure_ascii=False), {"file": file, "row": i})
        elif isinstance(data, dict):
            for key, item in data.items():
                yield RawRecord(json.dumps(item, ensure_ascii=False), {"file": file, "key": key})
        else:
            raise MalformedRecord("bad_json", f"{file}: expected a JSON array or object, got {type(data).__name__}")

    def iter_csv(self, filepath: str) -> Iterator[RawRecord]:
        """CSV rows as JSON text of {column: value} (header) or [values] (no header), with row and line numbers.

        The file is decoded with `encoding` and errors kept as surrogates, so a row with bad bytes is quarantined
        on its own (raw bytes kept) instead of failing the whole file.
        """
        file = self.display_path(filepath)
        with self.data_folder.open(filepath, "rb", compression="infer") as f:
            text = io.TextIOWrapper(f, encoding=self.encoding, errors="surrogateescape", newline="")
            reader = csv.reader(text)
            header = None
            if self.csv_header:
                header = next(reader, None)
                if header is None:
                    return
            row_no, line = 0, reader.line_num + 1
            for values in reader:
                start, line = line, reader.line_num + 1
                if not any(v.strip() for v in values):
                    continue
                buf = io.StringIO()
                csv.writer(buf).writerow(values)
                raw = buf.getvalue().rstrip("\r\n")
                location = {"file": file, "row": row_no, "line": start}
                row_no += 1
                if _has_surrogates(raw):
                    yield RawRecord(raw.encode(self.encoding, errors="surrogateescape"), location)
                    continue
                row: Any = dict(zip(header, values, strict=False)) if header else values
                if header and len(values) != len(header):
                    row = {"__columns__": header, "__values__": values}
                yield RawRecord(json.dumps(row, ensure_ascii=False), location)

    def iter_parquet(self, filepath: str) -> Iterator[RawRecord]:
        import pyarrow.parquet as pq

        file = self.display_path(filepath)
        with self.data_folder.open(filepath, "rb") as f:
            parquet = pq.ParquetFile(f)
            row_no = 0
            for batch in parquet.iter_batches(batch_size=1024):
                for row in batch.to_pylist():
                    yield RawRecord(json.dumps(row, ensure_ascii=False, default=str), {"file": file, "row": row_no})
                    row_no += 1

    # ---- helpers for parse() ---------------------------------------------------------------------------------
    def load_row(self, record: RawRecord) -> dict[str, Any]:
        """The raw record as a dict (decoding and JSON errors become MalformedRecord)."""
        if isinstance(record.raw, bytes) and file_kind(str(record.location.get("file", ""))) == "csv":
            self.decode(record.raw)  # a CSV row kept as bytes had undecodable bytes: report them
        data = self.parse_json(self.decode(record.raw))
        if isinstance(data, dict) and "__columns__" in data:
            cols, vals = data["__columns__"], data["__values__"]
            raise MalformedRecord("bad_row", f"{len(vals)} values for {len(cols)} columns {cols}")
        if not isinstance(data, dict):
            raise MalformedRecord("bad_record", f"expected a JSON object, got {type(data).__name__}")
        return data

    def resolve_task(self, task: str) -> int:
        try:
            return resolve_task_id(task, self.task_table, self.task_id)
        except UnknownTask as e:
            raise MalformedRecord("unknown_task", e.args[0]) from None

    def build(
        self,
        record: RawRecord,
        local_id: str,
        messages: list[dict[str, str]],
        *,
        task: str | None = None,
        mc: MCQuestion | None = None,
        provenance: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        language: Language | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ParsedRecord:
        """A ParsedRecord carrying a complete, schema-checked instruction record."""
        task = task or self.task
        location = {**record.location, **(provenance or {})}
        location.setdefault("record_id", local_id)
        rec = make_record(
            id=f"{self.source}:{local_id}",
            source=self.source,
            task=task,
            task_id=self.resolve_task(task),
            language=language or self.language,
            messages=messages,
            provenance=location,
            mc=mc,
            meta=meta,
        )
        errors = record_errors(rec)
        if errors:
            raise MalformedRecord("invalid_record", "; ".join(errors))
        return ParsedRecord(
            text=flat_text(rec),
            id=local_id,
            provenance=provenance or {},
            metadata={"record": rec, **(metadata or {})},
        )

    def build_mc(self, record: RawRecord, local_id: str, mc: MCQuestion, **kwargs) -> ParsedRecord:
        """`build` for a multiple-choice question, rendered with this source's template and target."""
        messages = render_mc(mc, self.template, self.target, self.with_explanation, self.system_prompt)
        meta = {**mc.meta, "template": self.template, **(kwargs.pop("meta", None) or {})}
        return self.build(record, local_id, messages, mc=mc, meta=meta, **kwargs)

    def build_qa(self, record: RawRecord, local_id: str, question: str, answer: str, **kwargs) -> ParsedRecord:
        """`build` for a free-form question and answer."""
        messages = render_qa(question, answer, self.template, self.system_prompt)
        return self.build(record, local_id, messages, **kwargs)

    # ---- parse with counted drops ------------------------------------------------------------------------------
    def parse_row(self, record: RawRecord) -> ParsedRecord:
        """Turn one raw record into a ParsedRecord (via build/build_mc/build_qa); raise MalformedRecord or
        DroppedRecord."""
        raise NotImplementedError

    def parse(self, record: RawRecord) -> ParsedRecord:
        try:
            return self.parse_row(record)
        except DroppedRecord as e:
            # the base reader only knows kept / quarantined / empty; a marked record is counted and removed below
            return ParsedRecord(text=_DROP_MARK, id=_DROP_MARK, metadata={_DROP_MARK: e.reason})

    def read_file(self, filepath: str):
        for doc in super().read_file(filepath):
            reason = doc.metadata.get(_DROP_MARK)
            if reason is not None:
                self.stat_update("dropped", f"dropped_{reason}")
                continue
            yield doc


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)
