"""Evaluation sets as published, read into `EvalItem`s: id keys, question, options, context and language.

Kinds (each named in the recipe; the name goes into the drop reasons):
- `pubmedqa`: the official test split = the PMIDs of test_ground_truth.json (`test_ground_truth`), with their
  questions and abstracts read from `path` (ori_pqal.json or the Hub parquet; optional: without it only the PMIDs
  are checked). Never selected by position.
- `medqa`: a MedQA JSONL file (`questions/US/test.jsonl`: question, options {A..}, answer, answer_idx);
- `mcmle`: MedQA's mainland-China split (`questions/Mainland/test.jsonl`, same layout, Chinese text);
- `medmcqa`: MedMCQA dev (`dev.json`, JSON lines, Hub parquet, or the packed "A. x\\nB. y" copies); no answer needed;
- `mmlu`: MMLU test CSVs / Hub parquet, restricted to `subjects` (default: every subject found);
- `cmexam`: CMExam's CSV split (Question, Options "A xxx\\nB xxx", Answer...) or its JSON lines / spreadsheet copies;
- `cmb`: CMB-Exam (FreedomIntelligence/CMB: a JSON array or JSON lines of exam_type, exam_class, exam_subject,
  question, question_type, option {"A": ...}, answer (empty in the test split), id);
- `mapped`: any file, with `question_field` / `options_field` / `context_field` / `id_field`.

The language of an item is its set's (`language`, default: the kind's; `auto` and `mapped` decide per item by the
share of Han characters), so a mixed recipe checks each record against the eval sets of the record's language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import xxhash
from pydantic import Field

from corpusforge.config import StrictModel
from corpusforge.decontam import normalize_tokens
from corpusforge.errors import InputError
from corpusforge.formats import pubmedqa as pqa
from corpusforge.formats.multiple_choice.fields import field_value, is_missing
from corpusforge.formats.multiple_choice.layouts import parse_options
from corpusforge.formats.multiple_choice.question import MalformedQuestion
from corpusforge.instruct.adapters.multiple_choice import MMLUReader
from corpusforge.instruct.layouts import iter_records, local_opener, row_from_raw
from corpusforge.io.input_records import MalformedFile, MalformedRecord

Language = Literal["en", "zh"]
KIND_LANGUAGE: dict[str, str] = {
    "pubmedqa": "en",
    "medqa": "en",
    "medmcqa": "en",
    "mmlu": "en",
    "mcmle": "zh",
    "cmexam": "zh",
    "cmb": "zh",
    "mapped": "auto",
}
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# a question key only for questions long enough to name one item ("Which of the following is true?" names many)
MIN_KEY_TOKENS = {"en": 8, "zh": 12}


def text_language(text: str) -> Language:
    """zh when Han characters make up a fifth or more of the letters, else en."""
    letters = [c for c in text[:2000] if c.isalpha()]
    if not letters:
        return "en"
    return "zh" if sum(1 for c in letters if _HAN.match(c)) / len(letters) >= 0.2 else "en"


class EvalSetSpec(StrictModel):
    """One evaluation set to keep out of training data."""

    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_]*$", description="goes into reasons: eval_id_<name>")
    kind: Literal["pubmedqa", "medqa", "mcmle", "medmcqa", "mmlu", "cmexam", "cmb", "mapped"]
    path: str | None = None
    test_ground_truth: str | None = None
    subjects: list[str] | None = None
    language: Literal["auto", "en", "zh"] | None = Field(None, description="default: the kind's (mapped: auto)")
    question_field: str = "question"
    options_field: str | None = None
    context_field: str | None = None
    id_field: str | None = None
    encoding: str = "utf-8"

    @property
    def resolved_language(self) -> str:
        return self.language or KIND_LANGUAGE[self.kind]


@dataclass
class EvalItem:
    """One evaluation question: its reference (for reports), id keys, and the texts evidence is taken from."""

    ref: str
    keys: set[str]
    question: str
    options: list[str] = field(default_factory=list)
    context: str | None = None
    language: str = "en"

    @property
    def text(self) -> str:
        """Question and context: what the long-text (n-gram coverage) rule indexes."""
        return "\n".join(p for p in (self.question, self.context) if p)

    @property
    def display(self) -> str:
        """The item as a person reads it in the report: question, then lettered options."""
        lines = [self.question, *(f"{chr(65 + i)}. {o}" for i, o in enumerate(self.options))]
        return "\n".join(lines)


def question_key(text: str) -> str:
    """`q:<hash>` of a question's normalized tokens: equal for texts that differ only in case/punctuation/space."""
    return f"q:{xxhash.xxh64_hexdigest(' '.join(normalize_tokens(text)))}"


def keyable(question: str, language: str) -> bool:
    return len(normalize_tokens(question)) >= MIN_KEY_TOKENS.get(language, 8)


# ---- reading files -------------------------------------------------------------------------------------------
def _files(path: str | Path) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = [p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith(".")]
        if files:
            return files
    raise InputError(f"{path}: evaluation set not found (no such file, or an empty folder)")


def _rows(spec: EvalSetSpec, csv_header: bool = True) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """(where, row, location) for every record of the set's files; a malformed row is an error naming file and line."""
    for file in _files(spec.path):
        try:
            for raw in iter_records(local_opener(file), str(file), spec.encoding, csv_header):
                if raw.drop:  # a blank row
                    continue
                where = f"{file}:" + str(raw.location.get("line", raw.location.get("row", raw.location.get("key"))))
                try:
                    yield where, row_from_raw(raw, spec.encoding), raw.location
                except MalformedRecord as e:
                    raise InputError(f"{where}: evaluation set {spec.name!r}: {e.detail}") from None
        except MalformedFile as e:
            raise InputError(f"evaluation set {spec.name!r}: {file}: {e.detail}") from None


def _text(row: dict, name: str, where: str) -> str:
    value = row.get(name) if isinstance(row, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: evaluation row has no {name!r} text")
    return value


def _options(row: dict, name: str, where: str, spec: EvalSetSpec) -> list[str]:
    """Option texts (without letters) from any layout the multiple-choice parsers read."""
    value = field_value(row, name)
    if is_missing(value):
        raise InputError(f"{where}: evaluation set {spec.name!r}: row has no {name!r} options")
    try:
        return [text for _, text in parse_options(value, name)]
    except MalformedQuestion as e:
        raise InputError(f"{where}: evaluation set {spec.name!r}: {e}") from None


def _item(spec, ref, question, options=(), context=None, ids: Iterable[str] = ()) -> EvalItem:
    language = spec.resolved_language
    if language == "auto":
        language = text_language(question)
    keys = {*ids, *([question_key(question)] if keyable(question, language) else [])}
    return EvalItem(ref, keys, question, list(options), context, language)


def load_pubmedqa(spec: EvalSetSpec) -> list[EvalItem]:
    if not spec.test_ground_truth:
        raise InputError(f"evaluation set {spec.name!r}: `test_ground_truth` (test_ground_truth.json) is required")
    pmids = pqa.load_test_ground_truth(spec.test_ground_truth)
    texts: dict[str, tuple[str, str]] = {}
    if spec.path:
        for _, item, _ in pqa.iter_items(spec.path):
            if isinstance(item, pqa.MalformedItem):
                raise InputError(f"evaluation set {spec.name!r}: {item}")
            if item.pmid in pmids:
                texts[item.pmid] = (item.question, item.context)
    items = []
    for pmid in pmids:
        question, context = texts.get(pmid, ("", ""))
        keys = {f"pmid:{pmid}"} | ({question_key(question)} if question else set())
        items.append(EvalItem(f"pmid:{pmid}", keys, question, [], context or None, "en"))
    return items


def load_medqa(spec: EvalSetSpec) -> list[EvalItem]:
    """MedQA US and MCMLE (mainland) test files: the same JSONL layout."""
    return [
        _item(spec, where, _text(row, "question", where), _options(row, "options", where, spec))
        for where, row, _ in _rows(spec)
    ]


MEDMCQA_OPTIONS = ("opa", "opb", "opc", "opd")


def load_medmcqa(spec: EvalSetSpec) -> list[EvalItem]:
    items = []
    for where, row, _ in _rows(spec):
        ids = [f"id:{row['id']}"] if isinstance(row, dict) and row.get("id") else []
        if isinstance(row, dict) and all(k in row for k in MEDMCQA_OPTIONS):
            options = [str(row[k]) for k in MEDMCQA_OPTIONS if not is_missing(row[k]) and str(row[k]).strip()]
        else:
            options = _options(row, "options", where, spec)
        items.append(_item(spec, ids[0][3:] if ids else where, _text(row, "question", where), options, ids=ids))
    return items


def load_mmlu(spec: EvalSetSpec) -> list[EvalItem]:
    items = []
    for where, row, location in _rows(spec, csv_header=False):
        if isinstance(row, list):
            if not row or not str(row[0]).strip():
                raise InputError(f"{where}: MMLU row without a question")
            # a row without its 4 options (and answer) still names a question: indexed by its text alone
            question, options = str(row[0]), [str(o) for o in row[1:5]] if len(row) >= 6 else []
            subject = MMLUReader.subject_of_file(str(location["file"]))
        else:  # the Hub layout (question, subject, choices, answer) or a copy with option columns (input, A-D)
            name = "question" if "question" in row or "input" not in row else "input"
            subject = row.get("subject") or MMLUReader.subject_of_file(str(location["file"]))
            question = _text(row, name, where)
            if "choices" in row:
                options = [str(o) for o in field_value(row, "choices")]
            else:
                options = [str(row[k]) for k in "ABCDE" if k in row and not is_missing(row[k])]
        if spec.subjects is None or subject in spec.subjects:
            items.append(_item(spec, where, question, options))
    return items


def load_cmexam(spec: EvalSetSpec) -> list[EvalItem]:
    return [
        _item(spec, where, _text(row, "Question", where), _options(row, "Options", where, spec))
        for where, row, _ in _rows(spec)
    ]


def load_cmb(spec: EvalSetSpec) -> list[EvalItem]:
    items = []
    for where, row, _ in _rows(spec):
        ids = [f"id:cmb-{row['id']}"] if isinstance(row, dict) and not is_missing(row.get("id")) else []
        items.append(_item(spec, where, _text(row, "question", where), _options(row, "option", where, spec), ids=ids))
    return items


def load_mapped(spec: EvalSetSpec) -> list[EvalItem]:
    items = []
    for where, row, _ in _rows(spec):
        question = _text(row, spec.question_field, where)
        context = row.get(spec.context_field) if spec.context_field else None
        if isinstance(context, list):
            context = "\n\n".join(str(c) for c in context)
        options = _options(row, spec.options_field, where, spec) if spec.options_field else []
        ids = [f"id:{row[spec.id_field]}"] if spec.id_field and row.get(spec.id_field) else []
        items.append(_item(spec, where, question, options, context if isinstance(context, str) else None, ids))
    return items


LOADERS = {
    "pubmedqa": load_pubmedqa,
    "medqa": load_medqa,
    "mcmle": load_medqa,
    "medmcqa": load_medmcqa,
    "mmlu": load_mmlu,
    "cmexam": load_cmexam,
    "cmb": load_cmb,
    "mapped": load_mapped,
}


def load_eval_set(spec: EvalSetSpec) -> list[EvalItem]:
    if spec.kind != "pubmedqa" and not spec.path:
        raise InputError(f"evaluation set {spec.name!r}: `path` is required for kind {spec.kind!r}")
    return LOADERS[spec.kind](spec)
