"""PQA-U with the pseudo-labels written by `corpusforge label` (paper section 3.4.3, "LLM-annotated PQA-U").

`path` is the label dataset (the output directory of `corpusforge label`: parquet shards under data/, or JSON
lines of the same records): pmid, question, label (yes/no/maybe, or null when the model's answer could not be
used), confidence (probability of the chosen label), agreement (fraction of strategies agreeing), strategy,
model, ... Label records do not repeat the abstract, so `items_path` names the PQA-U items themselves
(ori_pqau.json, the Hub `pqa_unlabeled` parquet or JSON lines), read once per task into memory (~150 MB for the
61k items), to join contexts by PMID.

Outcomes: a null label is dropped (`unlabeled`); a PMID missing from the items is quarantined (`unknown_pmid`);
a label outside yes/no/maybe is quarantined (`bad_field`). Confidence and agreement go into the record's meta, where
`filter.label_quality` reads them (the recipe sets the thresholds).
"""

from __future__ import annotations

from functools import cached_property

from corpusforge.formats import pubmedqa as pqa
from corpusforge.instruct.adapters.pubmedqa import PubMedQABase, pubmedqa_mc
from corpusforge.io.input_records import DropRecord, MalformedRecord, ParsedRecord, RawRecord
from corpusforge.pipeline.registry import register

KEPT_LABEL_FIELDS = ("strategy", "model", "vote", "template_hash")  # names of schemas/label.schema.json


@register("instruct.pubmedqa_labels", kind="reader")
class PubMedQALabelsReader(PubMedQABase):
    """Pseudo-labelled PQA-U (label records joined with the PQA-U items by PMID) -> yes/no/maybe records."""

    default_glob = "**/*.parquet"

    def __init__(
        self,
        *args,
        items_path: str,
        label_field: str = "label",
        confidence_field: str = "confidence",
        agreement_field: str = "agreement",
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.items_path = items_path
        self.label_field = label_field
        self.confidence_field = confidence_field
        self.agreement_field = agreement_field

    @cached_property
    def items(self) -> dict[str, pqa.PubMedQAItem]:
        """PMID -> item of `items_path` (an unreadable file is an InputError naming it)."""
        items = {}
        for _, item, _ in pqa.iter_items(self.items_path):
            if isinstance(item, pqa.PubMedQAItem):
                items[item.pmid] = item
            else:
                self.stat_update("items_malformed")
        return items

    def parse(self, record: RawRecord) -> ParsedRecord:
        row = self.load_row(record)
        pmid = self.require(row, "pmid", str, allow_empty=False)
        label = row.get(self.label_field)
        if label is None or label == "":
            raise DropRecord("unlabeled")
        if label not in pqa.LABELS:
            raise MalformedRecord("bad_field", f"field {self.label_field!r}: {label!r} is not one of {pqa.LABELS}")
        item = self.items.get(pmid)
        if item is None:
            raise MalformedRecord("unknown_pmid", f"PMID {pmid} is not in items_path {self.items_path}")
        meta = {
            "label": label,
            "confidence": _number(row.get(self.confidence_field), self.confidence_field),
            "agreement": _number(row.get(self.agreement_field), self.agreement_field),
            **{k: row[k] for k in KEPT_LABEL_FIELDS if row.get(k) is not None},
        }
        return self.build_mc(record, pmid, pubmedqa_mc(item, label), provenance={"pmid": pmid}, meta=meta)


def _number(value, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedRecord("bad_field", f"field {name!r} must be a number, got {value!r}")
    return float(value)
