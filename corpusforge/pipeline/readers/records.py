"""Readers of record-shaped sources: QA pairs, multiple-choice exams, PromptCBLUE.

Each file is cut into records by its layout, found from its name and first byte: JSON lines, a JSON array
(streamed element by element, never loaded whole), CSV (quoted fields may span lines, as CMExam's options do)
or parquet (the Hub layouts). Field names are mapped in the recipe, and every record ends as a document, a
counted drop (`dropped_<reason>`) or a quarantined raw record (see readers/base.py).

Bytes that are not valid in the recipe's `encoding` are kept losslessly (surrogateescape) so the quarantined raw
record holds the original bytes of exactly the bad record, and the rest of the file is still read.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from corpusforge.formats import multiple_choice as mcf
from corpusforge.pipeline.readers.base import (
    DropRecord,
    MalformedRecord,
    ParsedRecord,
    RawRecord,
    ReaderParams,
    SourceReader,
)
from corpusforge.pipeline.registry import register

_JSON_CHUNK = 1 << 20


@dataclass
class RowRecord(RawRecord):
    """A record whose layout was already decoded while cutting the file (a CSV/parquet row, a JSON element)."""

    data: Any = None


def _check_encoding(text: str, encoding: str) -> None:
    """Text decoded with surrogateescape holds lone surrogates exactly where the bytes were invalid."""
    for i, ch in enumerate(text):
        if "\udc80" <= ch <= "\udcff":
            raise MalformedRecord(
                "bad_encoding", f"not valid {encoding} at character {i} (set `encoding:` in the recipe?)"
            )


def _to_raw_bytes(text: str, encoding: str) -> bytes:
    """The original bytes of a record decoded with surrogateescape."""
    try:
        return text.encode(encoding, "surrogateescape")
    except (UnicodeEncodeError, LookupError):
        return text.encode("utf-8", "surrogateescape")


class RecordsReader(SourceReader):
    """Cuts JSON-lines, JSON-array, CSV and parquet files into records; subclasses turn a row dict into fields."""

    csv_header: bool = True

    def __init__(self, *args: Any, csv_header: bool | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if csv_header is not None:
            self.csv_header = csv_header
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            from corpusforge.errors import ConfigError

            raise ConfigError(f"encoding: unknown encoding {self.encoding!r}") from None

    # ---- cutting files ----------------------------------------------------------------------------------------
    def iter_raw(self, filepath: str) -> Iterator[RawRecord]:
        name = filepath.lower().removesuffix(".gz").removesuffix(".bz2").removesuffix(".zst")
        if name.endswith((".csv", ".tsv")):
            yield from self.iter_csv(filepath, delimiter="\t" if name.endswith(".tsv") else ",")
        elif name.endswith(".parquet"):
            yield from self.iter_parquet(filepath)
        else:
            yield from self.iter_json(filepath)

    def _text_stream(self, f: Any) -> io.TextIOWrapper:
        return io.TextIOWrapper(f, encoding=self.encoding, errors="surrogateescape", newline="")

    def iter_json(self, filepath: str) -> Iterator[RawRecord]:
        """JSON lines, or a JSON array when the first non-blank character is `[`."""
        with self.data_folder.open(filepath, "rb", compression="infer") as f:
            head = f.read(4096)
        stripped = head.lstrip(codecs.BOM_UTF8).lstrip()
        if stripped.startswith(b"["):
            yield from self.iter_json_array(filepath)
        else:
            yield from self.iter_lines(filepath)

    def iter_json_array(self, filepath: str) -> Iterator[RawRecord]:
        """Elements of a top-level JSON array, decoded one at a time from a growing buffer."""
        file = self.display_path(filepath)
        decoder = json.JSONDecoder()
        with self.data_folder.open(filepath, "rb", compression="infer") as raw:
            stream = self._text_stream(raw)
            buf, pos, eof = "", 0, False

            def fill() -> bool:
                nonlocal buf, pos, eof
                chunk = stream.read(_JSON_CHUNK)
                buf, pos = buf[pos:] + chunk, 0
                eof = not chunk
                return bool(chunk)

            def skip_space() -> str:
                nonlocal pos
                while True:
                    while pos < len(buf) and buf[pos] in " \t\r\n\ufeff":
                        pos += 1
                    if pos < len(buf) or not fill():
                        return buf[pos] if pos < len(buf) else ""

            def rest(index: int, reason: str, detail: str) -> RawRecord:
                while fill() and len(buf) - pos <= self.max_record_bytes:
                    pass
                tail = buf[pos : pos + self.max_record_bytes]
                return RawRecord(
                    _to_raw_bytes(tail, self.encoding),
                    {"file": file, "element": index},
                    error=MalformedRecord(reason, detail + " (rest of the file skipped)"),
                )

            skip_space()
            pos += 1  # the opening '['
            index = 0
            if skip_space() == "]":
                return
            while True:
                if skip_space() == "":
                    yield rest(index, "bad_json", "JSON array ends without ']'")
                    return
                while True:
                    try:
                        value, end = decoder.raw_decode(buf, pos)
                    except json.JSONDecodeError as e:
                        if not eof and len(buf) - pos <= self.max_record_bytes and fill():
                            continue
                        yield rest(index, "bad_json", f"invalid JSON in array element {index}: {e.msg}")
                        return
                    if end == len(buf) and not eof and fill():  # a number cut by the chunk boundary
                        continue
                    break
                text = buf[pos:end]
                yield RowRecord(_to_raw_bytes(text, self.encoding), {"file": file, "element": index}, data=value)
                pos = end
                index += 1
                sep = skip_space()
                if sep == ",":
                    pos += 1
                elif sep == "]":
                    return
                else:
                    yield rest(index, "bad_json", f"expected ',' or ']' after array element {index - 1}")
                    return

    def iter_csv(self, filepath: str, delimiter: str = ",") -> Iterator[RawRecord]:
        """CSV rows (1-based `row` after the header, `line` where the row starts)."""
        file = self.display_path(filepath)
        with self.data_folder.open(filepath, "rb", compression="infer") as raw:
            stream = self._text_stream(raw)
            reader = csv.reader(stream, delimiter=delimiter)
            header = None
            if self.csv_header:
                header = next(reader, None)
                if header is None:
                    return
                if header and header[0].startswith("\ufeff"):
                    header[0] = header[0][1:]
            line = reader.line_num + 1
            for row_no, row in enumerate(reader, start=1):
                start, line = line, reader.line_num + 1
                if not any(cell.strip() for cell in row):
                    continue
                out = io.StringIO()
                csv.writer(out, delimiter=delimiter, lineterminator="\n").writerow(row)
                data: Any = row
                if header is not None:
                    data = dict(zip(header, row, strict=False)) if len(row) == len(header) else row
                location = {"file": file, "row": row_no, "line": start}
                yield RowRecord(_to_raw_bytes(out.getvalue().rstrip("\n"), self.encoding), location, data=data)

    def iter_parquet(self, filepath: str) -> Iterator[RawRecord]:
        import pyarrow.parquet as pq

        file = self.display_path(filepath)
        with self.data_folder.open(filepath, "rb") as f:
            row_no = 0
            for batch in pq.ParquetFile(f).iter_batches(batch_size=1024):
                for row in batch.to_pylist():
                    raw = json.dumps(row, ensure_ascii=False, default=str)
                    yield RowRecord(raw, {"file": file, "row": row_no}, data=row)
                    row_no += 1

    # ---- turning records into row dicts -----------------------------------------------------------------------
    def row_of(self, record: RawRecord) -> Any:
        """The record's decoded row (a dict for JSON/parquet/CSV with header, a list for header-less CSV)."""
        if isinstance(record, RowRecord):
            if isinstance(record.raw, bytes):
                _check_encoding(record.raw.decode(self.encoding, "surrogateescape"), self.encoding)
            if isinstance(record.data, list) and self.csv_header:
                raise MalformedRecord(
                    "bad_record", f"CSV row has {len(record.data)} cells, the header has another count"
                )
            return record.data
        return self.parse_json(self.decode(record.raw))

    @staticmethod
    def record_id(record: RawRecord, explicit: Any = None) -> str:
        """An id unique within the source: the record's own id, else `<file name>:<line/row/element>`."""
        if explicit not in (None, ""):
            return str(explicit)
        loc = record.location
        where = next((loc[k] for k in ("line", "row", "element") if k in loc), 0)
        return f"{Path(str(loc.get('file', ''))).name}:{where}"


def _text_field(row: Any, key: str) -> str:
    """A text field that may also be a list of texts (Huatuo-26M keeps several phrasings of a question)."""
    value = SourceReader.require(row, key, (str, int, float, list))
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise MalformedRecord("bad_field", f"field {key!r} must be text or a list of texts")
        value = "\n".join(v.strip() for v in value if v.strip())
    value = str(value).strip()
    if not value:
        raise MalformedRecord("missing_field", f"field {key!r} is empty")
    return value


# ---- read.qa ------------------------------------------------------------------------------------------------------
@register("read.qa", kind="reader")
class QAReader(RecordsReader):
    """Question/answer pairs (JSONL, JSON array, CSV, parquet) -> one text per pair."""

    name = "read.qa"

    class Params(ReaderParams):
        type: Literal["read.qa"] = "read.qa"
        question_field: str = "question"
        answer_field: str = "answer"
        id_field: str | None = None
        # how the pair becomes one text; {question} and {answer} are replaced
        template: str = "{question}\n{answer}"

    def __init__(
        self,
        *args: Any,
        question_field: str = "question",
        answer_field: str = "answer",
        id_field: str | None = None,
        template: str = "{question}\n{answer}",
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.question_field = question_field
        self.answer_field = answer_field
        self.id_field = id_field
        self.template = template

    def parse(self, record: RawRecord) -> ParsedRecord:
        row = self.row_of(record)
        question = _text_field(row, self.question_field)
        answer = _text_field(row, self.answer_field)
        explicit = row.get(self.id_field) if self.id_field and isinstance(row, dict) else None
        text = self.template.replace("{question}", question).replace("{answer}", answer)
        return ParsedRecord(text=text, id=self.record_id(record, explicit))


# ---- read.exam ----------------------------------------------------------------------------------------------------
ExamFormat = mcf.ExamFormat


@register("read.exam", kind="reader")
class ExamReader(RecordsReader):
    """Multiple-choice exam questions in their source layout -> question + options text, parsed fields in `mc`.

    format: medqa (JSONL), medmcqa (JSON lines; `cop_base` 1 = GitHub release, 0 = Hub release, auto = detected
    per file from its answer column; copies with packed options and "B. text" answers are read too), cmexam (CSV
    or JSON lines, options joined by newlines or a literal backslash-n; set `encoding`), mmlu (header-less
    per-subject CSV; the subject is taken from the file name), mmlu_hub (question/subject/choices/answer rows),
    mapped (`fields`). How options and answers are written is detected per file from its first rows
    (`options_format` / `answer_format` pin it); a row written otherwise is quarantined (`layout_mismatch`).
    Multi-answer questions are dropped (`multi_answer`), see formats/multiple_choice.MultiAnswerQuestion.
    """

    name = "read.exam"
    layout_sample = 500

    class Params(ReaderParams):
        type: Literal["read.exam"] = "read.exam"
        format: ExamFormat
        fields: mcf.FieldMap | None = None
        cop_base: Literal[0, 1, "auto"] = "auto"
        options_format: Literal["auto", "dict", "list", "text"] = "auto"
        answer_format: Literal["auto", "letter", "letter_text", "index0", "index1", "text"] = "auto"

    def __init__(
        self,
        *args: Any,
        format: ExamFormat,
        fields: mcf.FieldMap | dict | None = None,
        cop_base: int | str = "auto",
        options_format: str = "auto",
        answer_format: str = "auto",
        **kwargs: Any,
    ):
        super().__init__(*args, csv_header=format != "mmlu", **kwargs)
        if format == "mapped" and fields is None:
            from corpusforge.errors import ConfigError

            raise ConfigError("fields: the `mapped` exam format needs `fields` (question/options/answer names)")
        self.format = format
        self.fields = mcf.FieldMap.model_validate(fields) if isinstance(fields, dict) else fields
        self.cop_base = cop_base
        self.options_format = None if options_format == "auto" else options_format
        self.answer_format = None if answer_format == "auto" else answer_format
        self._file_cop_base: dict[str, int] = {}
        self._file_layout: dict[str, mcf.MCLayout] = {}

    def iter_raw(self, filepath: str) -> Iterator[RawRecord]:
        if self.format == "medmcqa" and self.cop_base == "auto":
            self._file_cop_base[self.display_path(filepath)] = self._detect_cop_base(filepath)
        if self.format in ("medqa", "medmcqa", "cmexam", "mapped"):
            rows = self._sample_rows(filepath, self.layout_sample)
            layout = mcf.detect_layout(self.format, rows, self.fields, self.options_format, self.answer_format)
            self._file_layout[self.display_path(filepath)] = layout
        yield from super().iter_raw(filepath)

    def _sample_rows(self, filepath: str, limit: int) -> Iterator[Any]:
        for i, record in enumerate(super().iter_raw(filepath)):
            if i >= limit:
                return
            try:
                yield self.row_of(record)
            except MalformedRecord:
                continue

    def _detect_cop_base(self, filepath: str, sample: int = 2000) -> int:
        """Read the answer column of up to `sample` records; default to the GitHub release (1-based) if unclear."""
        cops = []
        for row in self._sample_rows(filepath, sample):
            if isinstance(row, dict) and "cop" in row and mcf.medmcqa_layout_fields(row) is None:
                cops.append(row["cop"])
        base = mcf.detect_cop_base(cops)
        return 1 if base is None else base

    def parse(self, record: RawRecord) -> ParsedRecord:
        row = self.row_of(record)
        try:
            mc = self.parse_question(row, record)
        except mcf.MultiAnswerQuestion:
            raise DropRecord("multi_answer") from None
        except mcf.MissingField as e:
            raise MalformedRecord("missing_field", str(e)) from None
        except mcf.LayoutMismatch as e:
            raise MalformedRecord("layout_mismatch", str(e)) from None
        except mcf.MalformedQuestion as e:
            raise MalformedRecord("bad_field", str(e)) from None
        metadata = {"mc": mc.to_record(), "mc_meta": mc.meta, "exam_format": self.format}
        return ParsedRecord(text=mc.flat_text(), id=self.record_id(record, mc.id), metadata=metadata)

    def parse_question(self, row: Any, record: RawRecord) -> mcf.MCQuestion:
        if self.format == "mmlu":
            stem = Path(str(record.location.get("file", ""))).stem
            subject = stem.rsplit("_", 1)[0] if stem.endswith(("_test", "_dev", "_val", "_train")) else stem
            return mcf.parse_mmlu_csv(row, subject=subject)
        if not isinstance(row, dict):
            raise MalformedRecord(
                "bad_record", f"expected a JSON object or a CSV row with header, got {type(row).__name__}"
            )
        layout = self._file_layout.get(record.location.get("file"), mcf.AUTO)
        if self.format == "medqa":
            return mcf.parse_medqa(row, layout=layout)
        if self.format == "medmcqa":
            base = (
                self.cop_base if self.cop_base != "auto" else self._file_cop_base.get(record.location.get("file"), 1)
            )
            return mcf.parse_medmcqa(row, cop_base=int(base), layout=layout)
        if self.format == "cmexam":
            return mcf.parse_cmexam(row, layout=layout)
        if self.format == "mmlu_hub":
            return mcf.parse_mmlu_hub(row)
        return mcf.parse_mapped(row, self.fields, layout=layout)


# ---- read.promptcblue ---------------------------------------------------------------------------------------------
@register("read.promptcblue", kind="reader")
class PromptCBLUEReader(RecordsReader):
    """PromptCBLUE JSONL (input, target, answer_choices, task_type, task_dataset, sample_id) -> input + "\\n" + target."""

    name = "read.promptcblue"

    class Params(ReaderParams):
        type: Literal["read.promptcblue"] = "read.promptcblue"

    def parse(self, record: RawRecord) -> ParsedRecord:
        row = self.row_of(record)
        prompt = _text_field(row, "input")
        target = _text_field(row, "target")
        metadata = {k: row.get(k) for k in ("task_type", "task_dataset") if row.get(k) is not None}
        choices = row.get("answer_choices")
        if isinstance(choices, list):
            metadata["answer_choices"] = choices
        sample_id = row.get("sample_id")
        record_id = f"{row.get('task_dataset')}:{sample_id}" if sample_id not in (None, "") else None
        return ParsedRecord(text=f"{prompt}\n{target}", id=self.record_id(record, record_id), metadata=metadata)
