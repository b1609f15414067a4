"""Multiple-choice exam sources: MedQA, MedMCQA, CMExam, MMLU (clinical subjects) and any mapped source.

Parsing is corpusforge/formats/multiple_choice/'s (one MCQuestion for every layout); this module reads files,
renders the question with the recipe's template and maps parse failures onto the accounting:
a MalformedQuestion is quarantined as `missing_field` / `bad_field` with a message naming the field; a CMExam row
with several answers is well-formed but unusable for single-answer training and is dropped as `multi_answer`;
MMLU rows of non-clinical subjects are dropped as `other_subject`.

Ids: MedMCQA rows have ids; MedQA, CMExam and MMLU rows do not, so their id is `<file name>#<line or row>`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath
from typing import Any, Literal

from corpusforge.formats import multiple_choice as mcf
from corpusforge.instruct.adapters.base import InstructReader, MCParams
from corpusforge.instruct.adapters.free_qa import location_id
from corpusforge.instruct.layouts import file_kind
from corpusforge.io.input_records import DropRecord, MalformedRecord, ParsedRecord, RawRecord
from corpusforge.pipeline.registry import register

# MMLU's clinical topics as used by Med-PaLM (Singhal et al.) and the paper (section 3.3.1)
CLINICAL_SUBJECTS = (
    "anatomy",
    "clinical_knowledge",
    "college_biology",
    "college_medicine",
    "medical_genetics",
    "professional_medicine",
)


def as_malformed(error: mcf.MalformedQuestion) -> Exception:
    """The accounting outcome of a parse failure: a counted drop or a quarantine with a stable reason."""
    if isinstance(error, mcf.MultiAnswerQuestion):
        return DropRecord("multi_answer")
    reason = "missing_field" if isinstance(error, mcf.MissingField) else "bad_field"
    if isinstance(error, mcf.LayoutMismatch):
        reason = "layout_mismatch"
    return MalformedRecord(reason, str(error))


class ExamParams(MCParams):
    """Options of the exam adapters: the layout of options and answer is detected per file unless pinned here."""

    options_format: Literal["auto", "dict", "list", "text"] = "auto"
    answer_format: Literal["auto", "letter", "letter_text", "index0", "index1", "text"] = "auto"


class MCReader(InstructReader):
    """Shared by the exam adapters: parse a row with `parse_question`, then render and build the record.

    Before a file is parsed, its first `layout_sample` rows decide how it writes options and answers
    (formats/multiple_choice/layout_detection.py); a row written otherwise is quarantined as `layout_mismatch` with
    an error naming what was expected and what was found.
    """

    Params = ExamParams

    default_template = "mc_lines_en"
    exam_format: str = ""
    layout_sample = 500
    question_parser: Callable[..., mcf.MCQuestion] | None = None  # a staticmethod: (row, layout=...) -> question

    def __init__(self, *args, options_format: str = "auto", answer_format: str = "auto", **kwargs):
        super().__init__(*args, **kwargs)
        self.options_format = None if options_format == "auto" else options_format
        self.answer_format = None if answer_format == "auto" else answer_format
        self.layout = mcf.AUTO

    def read_file(self, filepath: str):
        self.layout = self.detect_layout(filepath)
        yield from super().read_file(filepath)

    def detect_layout(self, filepath: str) -> mcf.MCLayout:
        """One pass over the file's first rows (cheap next to parsing and rendering all of them)."""
        if not self.exam_format:
            return mcf.AUTO
        return mcf.detect_layout(
            self.exam_format,
            self.sample_rows(filepath, self.layout_sample),
            getattr(self, "fields", None),
            self.options_format,
            self.answer_format,
        )

    def sample_rows(self, filepath: str, limit: int):
        for raw in self.sample_raw(filepath, limit):
            try:
                yield self.row_of(raw)
            except MalformedRecord:
                continue

    def parse_question(self, row: Any, record: RawRecord) -> mcf.MCQuestion:
        """The exam's `question_parser` with the file's layout; a reader whose parser needs more overrides this."""
        if self.question_parser is None:
            raise NotImplementedError
        return self.question_parser(row, layout=self.layout)

    def row_of(self, record: RawRecord) -> Any:
        return self.load_row(record)

    def parse(self, record: RawRecord) -> ParsedRecord:
        row = self.row_of(record)
        try:
            question = self.parse_question(row, record)
        except mcf.MalformedQuestion as e:
            raise as_malformed(e) from None
        return self.build_mc(record, question.id or location_id(record), question)


@register("instruct.medqa", kind="reader")
class MedQAReader(MCReader):
    """MedQA JSONL (question, options {A..E}, answer, answer_idx, meta_info) -> multiple-choice records."""

    default_task = "medqa"
    exam_format = "medqa"
    question_parser = staticmethod(mcf.parse_medqa)


@register("instruct.medmcqa", kind="reader")
class MedMCQAReader(MCReader):
    """MedMCQA JSON lines / Hub parquet (question, opa..opd, cop, exp, ...) -> multiple-choice records.

    `cop_base: auto` looks at the whole file's `cop` values (0 appears only in the Hub release, 4 only in the
    GitHub one); when a file cannot tell, parquet files are taken as the Hub release (0-3), others as GitHub (1-4).
    """

    default_task = "medmcqa"
    exam_format = "medmcqa"

    def __init__(self, *args, cop_base: Literal[0, 1, "auto"] = "auto", **kwargs):
        super().__init__(*args, **kwargs)
        self.cop_base = cop_base
        self._file_cop_base = 1

    def read_file(self, filepath: str):
        self._file_cop_base = self.cop_base if self.cop_base != "auto" else self.detect_cop_base(filepath)
        yield from super().read_file(filepath)

    def detect_cop_base(self, filepath: str) -> int:
        """One extra pass over the file's `cop` values (cheap next to parsing and rendering)."""
        cops = []
        for raw in self.sample_raw(filepath):
            try:
                row = self.load_row(raw)
            except MalformedRecord:
                continue
            if mcf.medmcqa_layout_fields(row) is None:  # the column layout (opa..opd, cop)
                cops.append(row.get("cop"))
        if not cops:
            return 1  # packed options and a written answer: no answer index to tell releases apart
        detected = mcf.detect_cop_base(cops)
        if detected is None:
            detected = 0 if file_kind(filepath) == "parquet" else 1
            self.stat_update("cop_base_guessed")
        return detected

    def parse_question(self, row: Any, record: RawRecord) -> mcf.MCQuestion:
        return mcf.parse_medmcqa(row, cop_base=self._file_cop_base, layout=self.layout)


class CMExamParams(ExamParams):
    encoding: str = "utf-8-sig"


@register("instruct.cmexam", kind="reader")
class CMExamReader(MCReader):
    """CMExam CSV (Question, Options "A xxx\\nB xxx", Answer, Explanation, annotations) -> records (zh).

    Encoding: `utf-8-sig` by default (plain UTF-8 with or without a BOM); set `encoding: gb18030` for GBK exports.
    """

    default_task = "cmexam"
    default_language = "zh"
    default_template = "mc_lines_zh"
    exam_format = "cmexam"
    Params = CMExamParams
    question_parser = staticmethod(mcf.parse_cmexam)


class MMLUParams(MCParams):
    subjects: list[str] = list(CLINICAL_SUBJECTS)


@register("instruct.mmlu", kind="reader")
class MMLUReader(MCReader):
    """MMLU per-subject CSV (no header; subject from the file name) or Hub parquet, clinical subjects only."""

    default_task = "mmlu"
    csv_header = False
    Params = MMLUParams

    def __init__(self, *args, subjects: list[str] = CLINICAL_SUBJECTS, **kwargs):
        super().__init__(*args, **kwargs)
        self.subjects = set(subjects)

    @staticmethod
    def subject_of_file(file: str) -> str:
        """`test/anatomy_test.csv` -> `anatomy`; Hub files `anatomy/test-0000.parquet` -> `anatomy`."""
        path = PurePath(file)
        stem = path.name.split(".")[0]
        for suffix in ("_test", "_dev", "_val"):
            if stem.endswith(suffix):
                return stem.removesuffix(suffix)
        return path.parent.name

    def row_of(self, record: RawRecord) -> Any:
        if file_kind(str(record.location.get("file", ""))) == "csv":
            data = self.row_data(record)
            if not isinstance(data, list):
                raise MalformedRecord("bad_row", "expected a CSV row")
            return data
        return self.load_row(record)

    def parse_question(self, row: Any, record: RawRecord) -> mcf.MCQuestion:
        """A question of any MMLU layout; its subject from the row, else from the file name when that is an MMLU
        subject. A row whose subject is not known either way (a copy without subjects, `mmlu/test.jsonl`) is kept
        and counted (`subject_unknown`): the subject filter cannot judge it, and dropping a whole file for a
        missing column would lose it silently."""
        file_subject = self.subject_of_file(str(record.location.get("file", "")))
        if isinstance(row, list):
            question = mcf.parse_mmlu_csv(row, subject=file_subject)
        else:
            question = mcf.parse_mmlu_hub(row)
        subject = mcf.subject_name(question.meta.get("subject")) or (
            file_subject if file_subject in mcf.MMLU_SUBJECTS else None
        )
        question.meta["subject"] = subject
        if subject is None:
            self.stat_update("subject_unknown")
        elif subject not in self.subjects:
            raise DropRecord("other_subject")
        return question


class MappedMCParams(ExamParams):
    fields: mcf.FieldMap


@register("instruct.mapped_mc", kind="reader")
class MappedMCReader(MCReader):
    """Any multiple-choice source of known shape: the recipe maps its field names (see FieldMap)."""

    exam_format = "mapped"
    Params = MappedMCParams

    def __init__(self, *args, fields: mcf.FieldMap | dict, **kwargs):
        self.fields = fields if isinstance(fields, mcf.FieldMap) else mcf.FieldMap.model_validate(fields)
        super().__init__(*args, **kwargs)

    def parse_question(self, row: Any, record: RawRecord) -> mcf.MCQuestion:
        return mcf.parse_mapped(row, self.fields, layout=self.layout)
