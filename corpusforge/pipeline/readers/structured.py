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
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from corpusforge.errors import ConfigError
from corpusforge.formats import multiple_choice as mcf
from corpusforge.io.delimited import iter_csv
from corpusforge.io.input_records import DropRecord, MalformedRecord, ParsedRecord, RawRecord
from corpusforge.io.json_layouts import iter_json_document
from corpusforge.io.parquet import iter_parquet
from corpusforge.pipeline.readers.base import ReaderParams, SourceReader
from corpusforge.pipeline.registry import register


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
            raise ConfigError(f"encoding: unknown encoding {self.encoding!r}") from None

    # ---- cutting files ----------------------------------------------------------------------------------------
    def iter_raw(self, filepath: str) -> Iterator[RawRecord]:
        name = filepath.lower().removesuffix(".gz").removesuffix(".bz2").removesuffix(".zst")
        if name.endswith((".csv", ".tsv")):
            yield from self.iter_csv(filepath, delimiter="\t" if name.endswith(".tsv") else ",")
        elif name.endswith(".parquet"):
            yield from self.iter_parquet(filepath)
        elif name.endswith((".jsonl", ".ndjson")):
            yield from self.iter_lines(filepath)
        else:
            yield from self.iter_json(filepath)

    def iter_json(self, filepath: str) -> Iterator[RawRecord]:
        """JSON lines, a JSON array or a JSON object, told apart by parsing (see corpusforge/io/json_layouts.py)."""
        yield from iter_json_document(
            self.opener(filepath), self.display_path(filepath), self.encoding, self.max_record_bytes
        )

    def iter_csv(self, filepath: str, delimiter: str = ",") -> Iterator[RawRecord]:
        """CSV rows (1-based `row` after the header, `line` where the row starts)."""
        yield from iter_csv(
            self.opener(filepath),
            self.display_path(filepath),
            self.encoding,
            self.csv_header,
            delimiter,
            limit=self.max_record_bytes,
        )

    def iter_parquet(self, filepath: str) -> Iterator[RawRecord]:
        yield from iter_parquet(lambda: self.data_folder.open(filepath, "rb"), self.display_path(filepath))

    # ---- turning records into row dicts -----------------------------------------------------------------------
    def row_of(self, record: RawRecord) -> Any:
        """The record's decoded row (a dict for JSON/parquet/CSV with header, a list for header-less CSV)."""
        return self.row_data(record)

    @staticmethod
    def record_id(record: RawRecord, explicit: Any = None) -> str:
        """An id unique within the source: the record's own id, else `<file name>:<line/row/element>`."""
        if explicit not in (None, ""):
            return str(explicit)
        loc = record.location
        where = next((loc[k] for k in ("line", "row", "element", "key") if k in loc), 0)
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
    """Question/answer pairs (JSONL, JSON array, CSV, parquet) -> one text per pair, or per dialogue.

    Fields may be one-element lists (Huatuo-26M's test set). A row with earlier turns in `history_field`
    ([[question, answer], ...], as CMtMedQA) becomes one text holding every turn in order. A repeated source id is
    made unique (`<id>~2`) and counted (`duplicate_ids`); rows without an id are named by file and line.
    """

    # template: how the pair becomes one text; {question} and {answer} are replaced
    def __init__(
        self,
        *args: Any,
        question_field: str = "question",
        answer_field: str = "answer",
        id_field: str | None = None,
        history_field: str | None = "history",
        template: str = "{question}\n{answer}",
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.question_field = question_field
        self.answer_field = answer_field
        self.id_field = id_field
        self.history_field = history_field
        self.template = template
        self._seen_ids: set[str] = set()

    def turns(self, row: Any) -> list[tuple[str, str]]:
        history = row.get(self.history_field) if self.history_field and isinstance(row, dict) else None
        turns = []
        if history not in (None, "", []):
            if not isinstance(history, list):
                raise MalformedRecord("bad_field", f"field {self.history_field!r} must be a list of [q, a] turns")
            for i, turn in enumerate(history):
                if not (isinstance(turn, list) and len(turn) == 2):
                    raise MalformedRecord("bad_field", f"{self.history_field}[{i}] must be a [question, answer] pair")
                named = {f"{self.history_field}[{i}][{j}]": turn[j] for j in (0, 1)}
                turns.append(tuple(_text_field(named, k) for k in named))
        turns.append((_text_field(row, self.question_field), _text_field(row, self.answer_field)))
        return turns

    def parse(self, record: RawRecord) -> ParsedRecord:
        row = self.row_of(record)
        turns = self.turns(row)
        explicit = row.get(self.id_field) if self.id_field and isinstance(row, dict) else None
        if isinstance(explicit, list) and len(explicit) == 1:
            explicit = explicit[0]
        text = "\n".join(self.template.replace("{question}", q).replace("{answer}", a) for q, a in turns)
        record_id = self.record_id(record, explicit)
        if explicit not in (None, ""):
            n, unique = 1, record_id
            while unique in self._seen_ids:
                n += 1
                unique = f"{record_id}~{n}"
            if n > 1:
                self.stat_update("duplicate_ids")
            self._seen_ids.add(unique)
            record_id = unique
        metadata = {"turns": len(turns)} if len(turns) > 1 else {}
        return ParsedRecord(text=text, id=record_id, metadata=metadata)


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
    Multi-answer questions are dropped (`multi_answer`), see formats/multiple_choice/question.MultiAnswerQuestion.
    """

    eval_id_keys = True  # its documents carry ids decontam.eval_sets compares (PMID, source id, question)

    layout_sample = 500

    class Params(ReaderParams):
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
        for record in self.sample_raw(filepath, limit, cut=super().iter_raw):
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
