"""`decontam.eval_sets`: keep evaluation items out of training data, on any document of any stage.

The evaluation sets (corpusforge/instruct/eval_loaders.py: MedQA, MCMLE, MedMCQA, MMLU, PubMedQA, CMExam, CMB or
mapped fields) are compared with every document: its text, and for exam-derived documents (stage-1 exam documents
and knowledge points, stage-2/3 multiple-choice records) the question and options they came from. A document is
checked against the sets of its language (Han text against Chinese sets, the rest against English ones); one in a
split of `keep_splits` (the official test split of a stage-3 build) is left alone. Both are counted, never silent.

Two checks, in this order:
1. by id (reason `eval_id_<set>`): the document's PMID, its source id, or its normalized question equals one of
   the set's (`pmid:`, `id:` and `q:` keys; question keys only for questions long enough to name one item);
2. by text evidence (reason `eval_ngram_<set>`), two rules:
   - long text (`OverlapIndex`, corpusforge/decontam.py): the 13-grams (Latin script; `ngram_zh` characters for
     Han text) it shares with one item cover `min_coverage` of that item's distinctive tokens;
   - question and options (`MCIndex`, corpusforge/decontam_mc.py), for items with options whose question is
     short: most of the question and most of its options, near each other, in any order or lettering.
   Spans found in more than `max_ref_df` evaluation items, or (with `training_df`) in many training records, are
   generic and never evidence on their own. Numbers are masked ("pulse is 88/min" reads as "pulse is 102/min").

Every hit goes to `<work_dir>/contamination/<source>/<rank>.jsonl`, the counts (documents checked per set, left
alone by split or language) to `<rank>.counts.json`; `ContaminationReport` (contamination_report.py) sums them.
With `training_df: true` the build first runs a pass over the source (`decontam-df/<source>`, the reader and the
steps before this one) that counts, for every indexed span, how many training documents contain it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from pydantic import Field

from corpusforge.config import StrictModel
from corpusforge.decontam import DEFAULT_NGRAM, OverlapIndex, TrainingDF, normalize_tokens
from corpusforge.decontam_mc import MCIndex
from corpusforge.errors import InputError
from corpusforge.formats.instruction import question_text
from corpusforge.instruct.contamination_report import (
    CONTAMINATION_DIR,
    COUNTS_SUFFIX,
    ContaminationReport,
)
from corpusforge.instruct.eval_loaders import (
    EvalItem,
    EvalSetSpec,
    load_eval_set,
    question_key,
    text_language,
)
from corpusforge.io.quarantine import QuarantineWriter
from corpusforge.pipeline.registry import BuildContext, StepParams, register, registered

__all__ = [
    "CONTAMINATION_DIR",
    "ContaminationReport",
    "EvalIndex",
    "EvalSetFilter",
    "EvalSetSpec",
    "load_eval_set",
    "question_key",
]
TRAINING_DF_DIR = "contamination_df"
MAX_ITEM_CHARS = 600


class OverlapParams(StrictModel):
    """How much overlap makes a document contain an evaluation item (corpusforge/decontam.py, decontam_mc.py)."""

    min_coverage: float = Field(0.5, gt=0, le=1, description="long-text rule: share of the item's distinctive tokens")
    max_ref_df: int = Field(3, ge=1, description="a span in more evaluation items than this is generic")
    short_ref_tokens: int | None = Field(None, ge=1, description="shorter questions (default 2n) use their options")
    min_question: float = Field(
        0.6, gt=0, le=1, description="options rule: share of the question's distinctive tokens"
    )
    min_options: float = Field(0.75, gt=0, le=1, description="options rule: share of the options found")
    mask_numbers: bool = True


class TrainingDFParams(StrictModel):
    """Spans common on the training side are not evidence (counted in a pass over the source before the filter)."""

    max_share: float = Field(0.002, gt=0, le=1, description="generic when in more than this share of documents...")
    min_documents: int = Field(20, ge=1, description="...and in more documents than this")


def record_keys(record: dict[str, Any]) -> set[str]:
    """The id keys of a stage-2/3 instruction record: PMID, source id, question."""
    keys = set()
    prov = record.get("provenance") or {}
    if prov.get("pmid"):
        keys.add(f"pmid:{prov['pmid']}")
    if prov.get("record_id"):
        keys.add(f"id:{prov['record_id']}")
    mc = record.get("mc")
    question = mc["question"] if mc else next((m["content"] for m in record["messages"] if m["role"] == "user"), "")
    if question:
        keys.add(question_key(question))
    return keys


def document_keys(doc: Document) -> set[str]:
    """The id keys of any document: an instruction record's, else its PMID and its exam question (stage 1)."""
    record = doc.metadata.get("record")
    if isinstance(record, dict):
        return record_keys(record)
    keys = set()
    provenance = doc.metadata.get("provenance") or {}
    pmid = provenance.get("pmid") or doc.metadata.get("pmid")
    if pmid:
        keys.add(f"pmid:{str(pmid).strip()}")
    mc = doc.metadata.get("mc")
    if isinstance(mc, dict) and mc.get("question"):
        keys.add(question_key(mc["question"]))
    return keys


def exam_fields(doc: Document) -> dict[str, Any] | None:
    """The multiple-choice fields a document came from (stage 1: metadata `mc`; stage 2/3: the record's `mc`)."""
    record = doc.metadata.get("record")
    mc = record.get("mc") if isinstance(record, dict) else doc.metadata.get("mc")
    return mc if isinstance(mc, dict) and mc.get("question") else None


def comparable_texts(doc: Document) -> list[str]:
    """What an evaluation item could have leaked into: the text, then the exam question and options it came from."""
    texts = [doc.text] if doc.text else []
    record = doc.metadata.get("record")
    if isinstance(record, dict) and not record.get("mc"):
        user = question_text(record)
        if user and user not in doc.text:
            texts.append(user)
    mc = exam_fields(doc)
    if mc:
        options = [f"{o.get('key', '')}. {o.get('text', '')}" for o in mc.get("options") or []]
        exam = "\n".join(p for p in (mc.get("context") or "", mc["question"], *options) if p)
        if exam not in doc.text:
            texts.append(exam)
    return texts


@dataclass
class LanguageIndex:
    """One language's evidence: the long-text n-gram index and the question-and-options index."""

    overlap: OverlapIndex
    options: MCIndex

    def indexes(self):
        return (self.overlap, self.options)


@dataclass
class EvalIndex:
    """Every evaluation set's id keys and text evidence, per language."""

    ngram: int = DEFAULT_NGRAM
    ids: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (set name, ref)
    languages: dict[str, LanguageIndex] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    set_languages: dict[str, set[str]] = field(default_factory=dict)  # set name -> languages of its items
    items: dict[str, str] = field(default_factory=dict)  # "set\tref" -> the item as displayed (for reports)

    @classmethod
    def build(
        cls,
        sets: list[EvalSetSpec],
        ngram: int = DEFAULT_NGRAM,
        overlap: OverlapParams | None = None,
        ngram_zh: int = 24,
        keep_items: bool = True,
    ) -> EvalIndex:
        o = overlap or OverlapParams()
        index = cls(ngram=ngram)
        for spec in sets:
            items = load_eval_set(spec)
            index.sizes[spec.name] = len(items)
            index.set_languages[spec.name] = {item.language for item in items}
            for item in items:
                index.add(spec.name, item, o, ngram if item.language == "en" else ngram_zh, keep_items)
        return index

    def add(self, name: str, item: EvalItem, o: OverlapParams, n: int, keep_item: bool) -> None:
        for key in item.keys:
            if key in self.ids and self.ids[key] != (name, item.ref) and key.startswith("q:"):
                self.ids[key] = ("", "")  # a question several items ask names no one item: not evidence
            else:
                self.ids.setdefault(key, (name, item.ref))
        lang = self.languages.get(item.language)
        if lang is None:
            lang = self.languages[item.language] = LanguageIndex(
                OverlapIndex(n, o.min_coverage, o.max_ref_df, o.short_ref_tokens, numbers_masked=o.mask_numbers),
                MCIndex(item.language, o.min_question, o.min_options, o.max_ref_df, numbers_masked=o.mask_numbers),
            )
        ref = f"{name}\t{item.ref}"
        short = len(normalize_tokens(item.question)) < lang.overlap.short_ref_tokens
        indexed = short and len(item.options) >= 2 and lang.options.add(item.question, item.options, ref)
        if not indexed and item.text:
            lang.overlap.add(item.text, ref)
        if keep_item:
            self.items[ref] = item.display[:MAX_ITEM_CHARS]

    def match_id(self, keys: set[str]) -> tuple[str, str] | None:
        for key in sorted(keys):
            hit = self.ids.get(key)
            if hit and hit[0]:
                return hit
        return None

    def match_text(self, texts: list[str], language: str) -> tuple[str, str, dict[str, Any]] | None:
        """(set name, reference, evidence) of the item one of `texts` contains, or None."""
        lang = self.languages.get(language)
        if lang is None:
            return None
        for text in texts:
            found = lang.overlap.match(text)
            if found is not None:
                evidence = {
                    "rule": "coverage",
                    "coverage": found.coverage,
                    "ngrams": found.ngrams,
                    "span": found.span,
                }
                return *found.ref_id.split("\t", 1), evidence
            mc = lang.options.match(text)
            if mc is not None:
                evidence = {
                    "rule": "options",
                    "coverage": mc.question_coverage,
                    "options_found": mc.options_found,
                    "options_total": mc.options_total,
                    "span": mc.span,
                }
                return *mc.ref_id.split("\t", 1), evidence
        return None

    # ---- the training side: document frequency of indexed spans -----------------------------------------------
    def count_training(self, doc: Document) -> None:
        lang = self.languages.get(text_language(doc.text))
        if lang is not None:
            for index in lang.indexes():
                index.count_training(doc.text)

    def training_counts(self) -> dict[str, np.ndarray]:
        out = {}
        for language, lang in self.languages.items():
            for kind, index in zip(("overlap", "options"), lang.indexes(), strict=True):
                index._freeze()
                out[f"{language}.{kind}"] = index.train.counts
                out[f"{language}.{kind}.records"] = np.array([index.train.records])
        return out

    def apply_own_training_counts(self, params: TrainingDFParams) -> int:
        """Mark generic spans from the counts `count_training` gathered in this process (one-process runs, bench)."""
        records = 0
        for lang in self.languages.values():
            for index in lang.indexes():
                index._freeze()
                index.set_training_df(index.train, params.max_share, params.min_documents)
                records = max(records, index.train.records)
        return records

    def use_training_counts(self, files: list[Path], params: TrainingDFParams) -> int:
        """Sum the per-task counts of the training pass and mark generic spans; returns the documents counted."""
        totals: dict[str, TrainingDF] = {}
        for path in files:
            with np.load(path) as data:
                for key in data.files:
                    if key.endswith(".records"):
                        continue
                    part = TrainingDF(len(data[key]))
                    part.counts, part.records = data[key].astype(np.int64), int(data[f"{key}.records"][0])
                    if key in totals:
                        totals[key].merge(part)
                    else:
                        totals[key] = part
        records = 0
        for language, lang in self.languages.items():
            for kind, index in zip(("overlap", "options"), lang.indexes(), strict=True):
                train = totals.get(f"{language}.{kind}")
                if train is not None:
                    index.set_training_df(train, params.max_share, params.min_documents)
                    records = max(records, train.records)
        return records


class EvalSetParams(StepParams):
    sets: list[EvalSetSpec] = Field(..., min_length=1)
    ngram: int = Field(DEFAULT_NGRAM, ge=1, description="n-gram length in words (Latin script)")
    ngram_zh: int = Field(24, ge=1, description="n-gram length in characters (Han text)")
    check_ids: bool = True
    check_ngrams: bool = True
    overlap: OverlapParams = Field(default_factory=OverlapParams)
    training_df: bool = Field(False, description="count span frequency over the source in a pass before this step")
    training_df_params: TrainingDFParams = Field(default_factory=TrainingDFParams)
    keep_splits: list[str] = Field(default_factory=lambda: ["test"])

    def check_in_recipe(self, recipe: Any, steps: list[Any], index: int, where: str) -> list[str]:
        """A check that has nothing it can compare on a source is a recipe error, never "ran, removed 0"."""
        if not self.check_ids and not self.check_ngrams:
            return [f"{where}: check_ids and check_ngrams are both false: decontam.eval_sets would compare nothing"]
        names = [s.name for s in self.sets]
        if len(set(names)) != len(names):
            return [f"{where}.sets: evaluation set names must be distinct, got {names}"]
        problems = []
        for name, source in _sources_of(recipe, where).items():
            reader = registered()[source.reader.type].cls
            if not self.check_ngrams and not getattr(reader, "eval_id_keys", False):
                problems.append(
                    f"{where}: check_ngrams is false, so decontam.eval_sets compares ids only, and the documents "
                    f"of source {name!r} ({source.reader.type}) carry none (no PMID, source id or exam question)"
                )
            language = getattr(source.reader, "language", None)
            declared = {s.resolved_language for s in self.sets}
            if language in ("en", "zh") and language not in declared and "auto" not in declared:
                problems.append(
                    f"{where}: source {name!r} is {language!r} and no evaluation set of this step is "
                    f"(they are {sorted(declared)}): its documents could not be compared with anything"
                )
        return problems


def _sources_of(recipe: Any, where: str) -> dict[str, Any]:
    """The sources a step at `where` runs on: its own source, or every enabled source for a shared filter."""
    sources = {n: s for n, s in recipe.sources.items() if s.enabled}
    if where.startswith("sources."):
        name = where.split(".")[1]
        return {name: sources[name]} if name in sources else {}
    return {n: s for n, s in sources.items() if "decontam.eval_sets" not in s.skip_shared_filters}


@register("decontam.eval_sets")
class EvalSetFilter(BaseFilter):
    """Drop documents that contain evaluation items (by id, then by text evidence), in any stage."""

    Params = EvalSetParams

    def __init__(
        self,
        sets: list[EvalSetSpec | dict],
        ngram: int = DEFAULT_NGRAM,
        ngram_zh: int = 24,
        check_ids: bool = True,
        check_ngrams: bool = True,
        overlap: OverlapParams | dict | None = None,
        training_df: bool = False,
        training_df_params: TrainingDFParams | dict | None = None,
        keep_splits: list[str] = ("test",),
        source: str = "",
        report_dir: str | Path | None = None,
        training_df_dir: str | Path | None = None,
    ):
        super().__init__()
        self.sets = [s if isinstance(s, EvalSetSpec) else EvalSetSpec.model_validate(s) for s in sets]
        names = [s.name for s in self.sets]
        if len(set(names)) != len(names):
            raise ValueError(f"evaluation set names must be distinct, got {names}")
        self.ngram, self.ngram_zh = ngram, ngram_zh
        self.check_ids = check_ids
        self.check_ngrams = check_ngrams
        self.overlap = overlap if isinstance(overlap, OverlapParams) else OverlapParams.model_validate(overlap or {})
        self.training_df = training_df
        self.training_df_params = TrainingDFParams.model_validate(
            training_df_params.model_dump()
            if isinstance(training_df_params, TrainingDFParams)
            else training_df_params or {}
        )
        self.training_df_dir = Path(training_df_dir) if training_df_dir else None
        self.keep_splits = set(keep_splits)
        self.source = source
        self.report_dir = Path(report_dir) if report_dir else None
        self.hits = QuarantineWriter(report_dir)  # same job: per-task JSONL, opened on first use, rewritten on rerun
        self.checked: dict[str, dict[str, int]] = {}  # source -> eval set -> documents checked
        self.not_checked: dict[str, dict[str, int]] = {}  # source -> why -> documents
        self.training_documents = 0

    @classmethod
    def from_params(cls, params: EvalSetParams, ctx: BuildContext) -> EvalSetFilter:
        return cls(
            **params.model_dump(exclude={"type"}),
            source=ctx.source,
            report_dir=ctx.work_dir / CONTAMINATION_DIR / ctx.source,
            training_df_dir=ctx.work_dir / TRAINING_DF_DIR / ctx.source,
        )

    @cached_property
    def index(self) -> EvalIndex:
        """Loaded once per task, on the first document (an unreadable set is an InputError naming the file)."""
        index = EvalIndex.build(self.sets, self.ngram, self.overlap, self.ngram_zh)
        if self.training_df:
            files = sorted(self.training_df_dir.glob("*.npz")) if self.training_df_dir else []
            if not files:
                raise InputError(
                    f"decontam.eval_sets on {self.source!r}: training_df is on but the counting pass left no counts "
                    f"in {self.training_df_dir}"
                )
            self.training_documents = index.use_training_counts(files, self.training_df_params)
        return index

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        source = doc.metadata.get("source") or self.source
        split = doc.metadata.get("split")
        if split in self.keep_splits:
            self._skip(source, f"split_{split}")
            return True
        language = text_language(doc.text or (exam_fields(doc) or {}).get("question", ""))
        sets = [name for name, langs in self.index.set_languages.items() if language in langs]
        if not sets:
            self._skip(source, f"language_{language}")
            return True
        checked = self.checked.setdefault(source, {})
        for name in sets:
            checked[name] = checked.get(name, 0) + 1
        if self.check_ids:
            hit = self.index.match_id(document_keys(doc))
            if hit and hit[0] in sets:
                self._log(doc, hit[0], "id", hit[1])
                return False, f"eval_id_{hit[0]}"
        if self.check_ngrams:
            hit = self.index.match_text(comparable_texts(doc), language)
            if hit:
                self._log(doc, hit[0], "ngram", hit[1], **hit[2])
                return False, f"eval_ngram_{hit[0]}"
        return True

    def _skip(self, source: str, why: str) -> None:
        counts = self.not_checked.setdefault(source, {})
        counts[why] = counts.get(why, 0) + 1

    def _log(self, doc: Document, eval_set: str, check: str, ref: str, **extra) -> None:
        source = doc.metadata.get("source", self.source)
        item = self.index.items.get(f"{eval_set}\t{ref}", "")
        self.hits.write(
            {"id": doc.id, "source": source, "eval_set": eval_set, "check": check, "ref": ref, "item": item, **extra}
        )

    def run(self, data, rank: int = 0, world_size: int = 1):
        self.hits.set_rank(rank)
        self.checked, self.not_checked = {}, {}
        try:
            yield from super().run(data, rank, world_size)
        finally:
            self.hits.close()
        self._write_counts(rank)

    def _write_counts(self, rank: int) -> None:
        if self.report_dir is None:
            return
        self.report_dir.mkdir(parents=True, exist_ok=True)
        sources = set(self.checked) | set(self.not_checked) | ({self.source} if self.source else set())
        counts = {
            "checked": {
                source: {s.name: self.checked.get(source, {}).get(s.name, 0) for s in self.sets} for source in sources
            },
            "not_checked": self.not_checked,
            "training_documents": self.training_documents,
        }
        (self.report_dir / f"{rank:05d}{COUNTS_SUFFIX}").write_text(json.dumps(counts), encoding="utf-8")


class TrainingDFCounter(PipelineStep):
    """The counting pass of `decontam.eval_sets` with `training_df`: how many documents contain each indexed span
    (planned by the builder before the source's stage, see training_df_steps; not a recipe step)."""

    type = "🔢 - COUNT"

    def __init__(self, filter_params: dict, folder: str | Path):
        super().__init__()
        self.filter_params = filter_params
        self.folder = Path(folder)

    def run(self, data, rank: int = 0, world_size: int = 1):
        params = EvalSetParams.model_validate(self.filter_params)
        index = EvalIndex.build(params.sets, params.ngram, params.overlap, params.ngram_zh, keep_items=False)
        for doc in data:
            with self.track_time():
                index.count_training(doc)
                self.stat_update("counted")
        self.folder.mkdir(parents=True, exist_ok=True)
        np.savez(self.folder / f"{rank:05d}.npz", **index.training_counts())
        return
        yield


def training_df_params(steps: list[Any]) -> tuple[int, Any] | None:
    """(position, params) of the first `decontam.eval_sets` step of a source's list that asks for `training_df`."""
    for i, step in enumerate(steps):
        if step.type == "decontam.eval_sets" and getattr(step, "training_df", False):
            return i, step
    return None
