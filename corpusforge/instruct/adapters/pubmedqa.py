"""PubMedQA as yes/no/maybe multiple choice (paper Table 9 layout), with the official PQA-L split for stage 3.

Layouts (parsed by corpusforge/formats/pubmedqa.py): the original `ori_pqal.json` / `ori_pqau.json` (one JSON
object keyed by PMID: one raw record per PMID, location {file, pmid}), the Hub parquet layout (`pubid`,
`question`, `context{contexts, labels, meshes}`, `long_answer`, `final_decision`) and JSON lines of either.

Record: context = the abstract sections, question, options A) yes B) no C) maybe, answer = the label's key,
explanation = the long answer (used as target only with `with_explanation: true`).

With `test_ground_truth` set (the official test_ground_truth.json):
- `test: split` (default): the 500 official test PMIDs get split `test` and the official label; every other item
  gets split `train` (or `validation` for the PMIDs of `dev_fold`) and its fold index in meta (see pqal_split.py);
- `test: drop`: the official test PMIDs are dropped (`official_test`), for training-only builds;
- `test: keep`: no special treatment (the decontamination step decides).
Items without a label (PQA-U) are dropped and counted as `unlabeled`: a record needs an answer. Pseudo-labelled
PQA-U comes in through `instruct.pubmedqa_labels` instead.

The split a record must land in travels as `Document.metadata["split"]`; the mixing step keeps it (it only
hash-assigns records that have none).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from corpusforge.errors import ConfigError, InputError
from corpusforge.formats import pubmedqa as pqa
from corpusforge.formats.multiple_choice.question import MCQuestion
from corpusforge.instruct.adapters.base import InstructReader, MCParams
from corpusforge.instruct.pqal_split import PQALSplit, pqal_split
from corpusforge.io.input_records import DropRecord, MalformedRecord, ParsedRecord, RawRecord
from corpusforge.pipeline.registry import register

OPTIONS = [("A", "yes"), ("B", "no"), ("C", "maybe")]
KEY_OF_LABEL = {text: key for key, text in OPTIONS}


def pubmedqa_mc(item: pqa.PubMedQAItem, label: str) -> MCQuestion:
    """The multiple-choice fields of one PubMedQA item with answer `label`."""
    return MCQuestion(
        question=item.question,
        options=list(OPTIONS),
        answer=KEY_OF_LABEL[label],
        context=item.context or None,
        explanation=item.long_answer or None,
    )


def parse_item(raw: RawRecord, data: Any) -> pqa.PubMedQAItem:
    """A PubMedQAItem from one raw record of any layout, or MalformedRecord naming the field."""
    try:
        if "pmid" in raw.location:
            return pqa.item_from_original(str(raw.location["pmid"]), data)
        if not isinstance(data, dict):
            raise pqa.MalformedItem(f"expected a JSON object, got {type(data).__name__}")
        return pqa.item_from_any(data, "")
    except pqa.MalformedItem as e:
        raise MalformedRecord("bad_item", str(e).lstrip(": ")) from None


class PubMedQABase(InstructReader):
    """What the PubMedQA readers share: the task, the paper's template (Table 9) and the multiple-choice options;
    each reader's own parameters come from its __init__."""

    Params = MCParams
    default_task = "pubmedqa"
    default_template = "mc_table9_en"


@register("instruct.pubmedqa", kind="reader")
class PubMedQAReader(PubMedQABase):
    """PubMedQA (ori_pqal/ori_pqau JSON, Hub parquet, JSONL) -> yes/no/maybe records; official PQA-L split."""

    def __init__(
        self,
        *args,
        test_ground_truth: str | None = None,
        test: Literal["split", "drop", "keep"] = "split",
        folds: int = 10,
        fold_seed: int = 0,
        dev_fold: int | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.test_ground_truth = test_ground_truth
        self.test_policy = test
        self.n_folds = folds
        self.fold_seed = fold_seed
        self.dev_fold = dev_fold
        if dev_fold is not None and not 0 <= dev_fold < folds:
            raise ConfigError(f"sources.{self.source}.reader.dev_fold: must be in 0..{folds - 1}, got {dev_fold}")
        if test_ground_truth and not Path(test_ground_truth).is_file():
            raise ConfigError(f"sources.{self.source}.reader.test_ground_truth: file not found: {test_ground_truth}")

    # ---- the official split, computed once per task from the whole labelled file -----------------------------
    @cached_property
    def ground_truth(self) -> dict[str, str]:
        return pqa.load_test_ground_truth(self.test_ground_truth) if self.test_ground_truth else {}

    @cached_property
    def pqal(self) -> PQALSplit:
        """Folds need every labelled item in file order, so the split reads the input files once up front."""
        labels: dict[str, str] = {}
        for filepath in self.data_folder.list_files(recursive=True, glob_pattern=self.glob_pattern):
            try:
                for _, item, _ in pqa.iter_items(self.display_path(filepath)):
                    if isinstance(item, pqa.PubMedQAItem) and item.final_decision:
                        labels.setdefault(item.pmid, item.final_decision)
            except InputError:  # no PubMedQA layout at all: quarantined as a file when it is read
                continue
        labels.update({p: v for p, v in self.ground_truth.items() if p in labels})
        return pqal_split(labels, self.ground_truth, self.n_folds, self.fold_seed)

    # ---- reading -----------------------------------------------------------------------------------------------
    def iter_raw(self, filepath: str) -> Iterator[RawRecord]:
        """The original layout is one JSON object keyed by PMID: one raw record per PMID."""
        for record in super().iter_raw(filepath):
            if "key" in record.location:
                record.location["pmid"] = record.location.pop("key")
            yield record

    def parse(self, record: RawRecord) -> ParsedRecord:
        data = self.parse_json(self.decode(record.raw))
        item = parse_item(record, data)
        label, split, meta = item.final_decision, None, {}
        official = self.ground_truth.get(item.pmid)
        if official is not None and self.test_policy == "drop":
            raise DropRecord("official_test")
        if self.test_ground_truth and self.test_policy == "split":
            if official is not None:
                split, label = "test", official
                if item.final_decision and item.final_decision != official:
                    self.stat_update("test_label_from_ground_truth")
            elif label is not None:
                fold = self.pqal.fold_of(item.pmid)
                split = "validation" if fold is not None and fold == self.dev_fold else "train"
                meta.update({"fold": fold, "fold_method": self.pqal.method})
        if label is None:
            raise DropRecord("unlabeled")
        if item.year:
            meta["year"] = item.year
        metadata = {"split": split} if split else {}
        return self.build_mc(
            record,
            item.pmid,
            pubmedqa_mc(item, label),
            provenance={"pmid": item.pmid},
            meta=meta,
            metadata=metadata,
        )
