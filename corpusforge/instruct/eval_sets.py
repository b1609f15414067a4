"""Decontamination of instruction data against evaluation sets, and the contamination report of the card.

Evaluation sets (each named in the recipe; the name goes into the drop reasons):
- `pubmedqa`: the official test split = the PMIDs of test_ground_truth.json (`test_ground_truth`), with their
  questions and abstracts read from `path` (ori_pqal.json or the Hub parquet; optional: without it only the PMIDs
  are checked). Never selected by position.
- `medqa`: a MedQA JSONL file (the test split: `questions/US/test.jsonl`);
- `medmcqa`: MedMCQA dev (`dev.json`, JSON lines, or Hub parquet); rows need no answer;
- `mmlu`: MMLU test CSVs / Hub parquet, restricted to `subjects` (default: every subject found);
- `mapped`: any file, with `question_field` / `context_field` / `id_field`.

Two checks, in this order, per training record (its split in `keep_splits`, e.g. the official test split of a
stage-3 build, is left alone):
1. by id (reason `eval_id_<set>`): the record's PMID, its source id, or its normalized question text equals one
   of the set's (`pmid:`, `id:` and `q:` keys; the question key catches sources that have no ids, like MedQA);
2. by n-gram overlap (reason `eval_ngram_<set>`): the record's question + context contains an evaluation item,
   judged on evidence rather than on one shared phrase (corpusforge/decontam.OverlapIndex): the n-grams (13 tokens
   by default, numbers masked) it shares with one item must cover `min_coverage` (default half) of that item's
   distinctive tokens; n-grams found in more than `max_ref_df` evaluation items (vignette and lab-value
   boilerplate) are not evidence; a short item (under `short_ref_tokens`, default 2n) must also make up
   `min_coverage` of the record's text, so a phrase it shares with a long text is not enough.
Every hit is written to `<work_dir>/contamination/<source>/<rank>.jsonl` (record id, set, check, matched
reference; for n-gram hits the coverage and the matched span), from which `ContaminationReport` makes the
manifest's `contamination` section and the card's tables, the matched span of every n-gram drop included.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import xxhash
from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from pydantic import Field

from corpusforge.config import StrictModel
from corpusforge.decontam import DEFAULT_NGRAM, OverlapIndex, normalize_tokens
from corpusforge.errors import InputError
from corpusforge.formats import pubmedqa as pqa
from corpusforge.formats.instruction import question_text
from corpusforge.instruct.adapters.multiple_choice import MMLUReader
from corpusforge.instruct.layouts import iter_records, local_opener, row_from_raw
from corpusforge.io.input_records import MalformedFile, MalformedRecord
from corpusforge.io.quarantine import QuarantineWriter
from corpusforge.output.card import markdown_table
from corpusforge.pipeline.registry import BuildContext, StepParams, register

CONTAMINATION_DIR = "contamination"


class EvalSetSpec(StrictModel):
    """One evaluation set to keep out of training data."""

    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_]*$", description="goes into reasons: eval_id_<name>")
    kind: Literal["pubmedqa", "medqa", "medmcqa", "mmlu", "mapped"]
    path: str | None = None
    test_ground_truth: str | None = None
    subjects: list[str] | None = None
    question_field: str = "question"
    context_field: str | None = None
    id_field: str | None = None
    encoding: str = "utf-8"


@dataclass
class EvalItem:
    """One evaluation question: its reference (for reports), its id keys and the text n-grams are taken from."""

    ref: str
    keys: set[str]
    text: str


def question_key(text: str) -> str:
    """`q:<hash>` of a question's normalized tokens: equal for texts that differ only in case/punctuation/space."""
    return f"q:{xxhash.xxh64_hexdigest(' '.join(normalize_tokens(text)))}"


def record_keys(record: dict[str, Any]) -> set[str]:
    """The id keys of a training record (see the module docstring)."""
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


# ---- loaders -------------------------------------------------------------------------------------------------
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


def _item(ref: str, question: str, context: str | None = None, ids: Iterable[str] = ()) -> EvalItem:
    keys = {question_key(question), *ids}
    return EvalItem(ref, keys, "\n".join(p for p in (question, context) if p))


def _text(row: dict, name: str, where: str) -> str:
    value = row.get(name) if isinstance(row, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: evaluation row has no {name!r} text")
    return value


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
        items.append(EvalItem(f"pmid:{pmid}", keys, "\n".join(p for p in (question, context) if p)))
    return items


def load_medqa(spec: EvalSetSpec) -> list[EvalItem]:
    return [_item(where, _text(row, "question", where)) for where, row, _ in _rows(spec)]


def load_medmcqa(spec: EvalSetSpec) -> list[EvalItem]:
    items = []
    for where, row, _ in _rows(spec):
        ids = [f"id:{row['id']}"] if isinstance(row, dict) and row.get("id") else []
        items.append(_item(ids[0][3:] if ids else where, _text(row, "question", where), ids=ids))
    return items


def load_mmlu(spec: EvalSetSpec) -> list[EvalItem]:
    items = []
    for where, row, location in _rows(spec, csv_header=False):
        if isinstance(row, list):
            if not row or not str(row[0]).strip():
                raise InputError(f"{where}: MMLU row without a question")
            question, subject = str(row[0]), MMLUReader.subject_of_file(str(location["file"]))
        else:  # the Hub layout (question, subject, choices, answer) or a copy with option columns (input, A-D)
            name = "question" if "question" in row or "input" not in row else "input"
            subject = row.get("subject") or MMLUReader.subject_of_file(str(location["file"]))
            question = _text(row, name, where)
        if spec.subjects is None or subject in spec.subjects:
            items.append(_item(where, question))
    return items


def load_mapped(spec: EvalSetSpec) -> list[EvalItem]:
    items = []
    for where, row, _ in _rows(spec):
        question = _text(row, spec.question_field, where)
        context = row.get(spec.context_field) if spec.context_field else None
        if isinstance(context, list):
            context = "\n\n".join(str(c) for c in context)
        ids = [f"id:{row[spec.id_field]}"] if spec.id_field and row.get(spec.id_field) else []
        items.append(_item(where, question, context if isinstance(context, str) else None, ids))
    return items


LOADERS = {
    "pubmedqa": load_pubmedqa,
    "medqa": load_medqa,
    "medmcqa": load_medmcqa,
    "mmlu": load_mmlu,
    "mapped": load_mapped,
}


def load_eval_set(spec: EvalSetSpec) -> list[EvalItem]:
    if spec.kind != "pubmedqa" and not spec.path:
        raise InputError(f"evaluation set {spec.name!r}: `path` is required for kind {spec.kind!r}")
    return LOADERS[spec.kind](spec)


# ---- the filter ----------------------------------------------------------------------------------------------
class OverlapParams(StrictModel):
    """How much overlap makes a training record contain an evaluation item (see corpusforge/decontam.OverlapIndex)."""

    min_coverage: float = Field(0.5, gt=0, le=1)
    max_ref_df: int = Field(3, ge=1)
    short_ref_tokens: int | None = Field(None, ge=1)
    mask_numbers: bool = True


@dataclass
class EvalIndex:
    """Every evaluation set's id keys and n-grams, in one lookup table and one overlap index."""

    ngram: int = DEFAULT_NGRAM
    ids: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (set name, ref)
    ngrams: OverlapIndex | None = None
    sizes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(
        cls, sets: list[EvalSetSpec], ngram: int = DEFAULT_NGRAM, overlap: OverlapParams | None = None
    ) -> EvalIndex:
        o = overlap or OverlapParams()
        ngrams = OverlapIndex(ngram, o.min_coverage, o.max_ref_df, o.short_ref_tokens, numbers_masked=o.mask_numbers)
        index = cls(ngram=ngram, ngrams=ngrams)
        for spec in sets:
            items = load_eval_set(spec)
            index.sizes[spec.name] = len(items)
            for item in items:
                for key in item.keys:
                    index.ids.setdefault(key, (spec.name, item.ref))
                if item.text:
                    index.ngrams.add(item.text, f"{spec.name}\t{item.ref}")
        return index

    def match_id(self, record: dict[str, Any]) -> tuple[str, str] | None:
        for key in sorted(record_keys(record)):
            if key in self.ids:
                return self.ids[key]
        return None

    def match_ngram(self, record: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
        """(set name, reference, evidence: n-grams, coverage, matched span) of the item the record contains."""
        found = self.ngrams.match(question_text(record)) if self.ngrams is not None else None
        if found is None:
            return None
        name, _, ref = found.ref_id.partition("\t")
        return name, ref, {"ngrams": found.ngrams, "coverage": found.coverage, "span": found.span}


@register("decontam.eval_sets")
class EvalSetFilter(BaseFilter):
    """Drop instruction records that contain evaluation questions (by id, then by n-gram overlap)."""

    class Params(StepParams):
        sets: list[EvalSetSpec] = Field(..., min_length=1)
        ngram: int = Field(DEFAULT_NGRAM, ge=1)
        check_ids: bool = True
        check_ngrams: bool = True
        overlap: OverlapParams = Field(default_factory=OverlapParams)
        keep_splits: list[str] = Field(default_factory=lambda: ["test"])

    def __init__(
        self,
        sets: list[EvalSetSpec | dict],
        ngram: int = DEFAULT_NGRAM,
        check_ids: bool = True,
        check_ngrams: bool = True,
        overlap: OverlapParams | dict | None = None,
        keep_splits: list[str] = ("test",),
        source: str = "",
        report_dir: str | Path | None = None,
    ):
        super().__init__()
        self.sets = [s if isinstance(s, EvalSetSpec) else EvalSetSpec.model_validate(s) for s in sets]
        names = [s.name for s in self.sets]
        if len(set(names)) != len(names):
            raise ValueError(f"evaluation set names must be distinct, got {names}")
        self.ngram = ngram
        self.check_ids = check_ids
        self.check_ngrams = check_ngrams
        self.overlap = overlap if isinstance(overlap, OverlapParams) else OverlapParams.model_validate(overlap or {})
        self.keep_splits = set(keep_splits)
        self.source = source
        self.hits = QuarantineWriter(report_dir)  # same job: per-task JSONL, opened on first use, rewritten on rerun

    @classmethod
    def from_params(cls, params: Params, ctx: BuildContext) -> EvalSetFilter:
        return cls(
            **params.model_dump(exclude={"type"}),
            source=ctx.source,
            report_dir=ctx.work_dir / CONTAMINATION_DIR / ctx.source,
        )

    @cached_property
    def index(self) -> EvalIndex:
        """Loaded once per task, on the first document (an unreadable set is an InputError naming the file)."""
        return EvalIndex.build(self.sets, self.ngram, self.overlap)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        record = doc.metadata.get("record")
        if record is None or doc.metadata.get("split") in self.keep_splits:
            return True
        if self.check_ids:
            hit = self.index.match_id(record)
            if hit:
                self._log(doc, hit[0], "id", hit[1])
                return False, f"eval_id_{hit[0]}"
        if self.check_ngrams:
            hit = self.index.match_ngram(record)
            if hit:
                self._log(doc, hit[0], "ngram", hit[1], **hit[2])
                return False, f"eval_ngram_{hit[0]}"
        return True

    def _log(self, doc: Document, eval_set: str, check: str, ref: str, **extra) -> None:
        source = doc.metadata.get("source", self.source)
        self.hits.write({"id": doc.id, "source": source, "eval_set": eval_set, "check": check, "ref": ref, **extra})

    def run(self, data, rank: int = 0, world_size: int = 1):
        self.hits.set_rank(rank)
        try:
            yield from super().run(data, rank, world_size)
        finally:
            self.hits.close()


# ---- the report ------------------------------------------------------------------------------------------------
MAX_SPAN_CHARS = 240


@dataclass
class ContaminationReport:
    """Hits per (eval set, source, check), a few example record ids each, and every n-gram drop with its evidence
    (reference, coverage, matched span), for the manifest's `contamination` section and the card."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    ngram_hits: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    max_examples: int = 5

    @classmethod
    def from_folder(cls, folder: str | Path, max_examples: int = 5) -> ContaminationReport:
        """Read every hit file under `folder` (= <work_dir>/contamination)."""
        report = cls(max_examples=max_examples)
        for path in sorted(Path(folder).rglob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    report.add(json.loads(line))
        for key in report.examples:
            report.examples[key] = sorted(report.examples[key])[:max_examples]
        for key in report.ngram_hits:
            report.ngram_hits[key].sort(key=lambda h: h["id"])
        return report

    def add(self, hit: dict[str, Any]) -> None:
        self.counts[(hit["eval_set"], hit["source"], hit["check"])] += 1
        self.examples[(hit["eval_set"], hit["source"])].append(hit["id"])
        if hit["check"] == "ngram":
            evidence = {k: hit.get(k) for k in ("id", "ref", "coverage", "ngrams", "span")}
            self.ngram_hits[(hit["eval_set"], hit["source"])].append(evidence)

    def to_dict(self) -> dict[str, Any]:
        """{eval set: {source: {"id": n, "ngram": n, "examples": [ids], "ngram_matches": [{id, ref, coverage,
        ngrams, span}]}}}: dropped by id, by n-gram, and the evidence of every n-gram drop."""
        out: dict[str, Any] = {}
        for (eval_set, source, check), n in sorted(self.counts.items()):
            entry = out.setdefault(eval_set, {}).setdefault(
                source, {"id": 0, "ngram": 0, "examples": [], "ngram_matches": []}
            )
            entry[check] += n
            entry["examples"] = self.examples[(eval_set, source)]
            entry["ngram_matches"] = self.ngram_hits.get((eval_set, source), [])
        return out

    def to_markdown(self) -> str:
        if not self.counts:
            return "No training record matched an evaluation set."
        rows, spans = [], []
        for eval_set, sources in self.to_dict().items():
            for source, entry in sources.items():
                examples = ", ".join(f"`{e}`" for e in entry["examples"])
                rows.append([eval_set, source, entry["id"], entry["ngram"], examples])
                for hit in entry["ngram_matches"]:
                    spans.append([f"`{hit['id']}`", eval_set, f"`{hit['ref']}`", hit["coverage"], _span(hit)])
            if len(sources) > 1:  # the evaluation set's total over its sources
                totals = [sum(e[check] for e in sources.values()) for check in ("id", "ngram")]
                rows.append([f"**{eval_set}**", "**all sources**", *totals, ""])
        text = markdown_table(["evaluation set", "source", "dropped by id", "dropped by n-gram", "examples"], rows)
        if spans:
            text += (
                "\n\nEvery record dropped by n-gram, with the evaluation item it contains: `coverage` is the share of "
                "the item's distinctive tokens found in the record, `matched span` the longest run of matching "
                f"(normalized) tokens.\n\n<details><summary>{len(spans)} n-gram drops</summary>\n\n"
                + markdown_table(["record", "evaluation set", "item", "coverage", "matched span"], spans)
                + "\n\n</details>"
            )
        return text


def _span(hit: dict[str, Any]) -> str:
    span = (hit.get("span") or "").replace("|", "\\|")
    return span if len(span) <= MAX_SPAN_CHARS else span[: MAX_SPAN_CHARS - 1] + "…"
