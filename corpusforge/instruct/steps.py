"""Pipeline steps of stage-2/3 builds: the mixture (scan + apply) and the pseudo-label quality filter.

The mixture runs after deduplication, over all sources together, in two passes so that caps stay exact and
streaming whatever the number of tasks:
1. `MixScan` (a stage of its own): per task, the bottom-k cap keys of every capped source -> `<folder>/<rank>.json`
   (k integers per source, nothing else is kept);
2. `MixApply` (in the write stage): merges those files into one threshold per source, then decides every record
   (mixing.Mixer): dropped (`over_cap`, `downsampled`), or one or more copies with `metadata["split"]` set, so a
   ParquetWriter with `output_filename="${split}/${rank}.parquet"` writes each split to its own folder.
MixApply changes the number of documents, so it counts `documents_in` / `expanded` / `documents_out` per the
accounting contract, plus `mix_*/<source>` counters that `MixtureReport.from_stats` turns into the card's table.
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter

from corpusforge.formats.instruction import record_meta
from corpusforge.instruct.mixing import BottomK, Mixer, MixSpec, MixtureReport, cap_key, repeated
from corpusforge.pipeline.registry import register


class MixScan(PipelineStep):
    """First mixture pass: the cap keys of every capped source, per task, into `<folder>/<rank>.json`."""

    name = "mix.scan"
    type = "🧮 - MIX"

    def __init__(self, spec: MixSpec, folder: str | Path):
        super().__init__()
        self.spec = spec
        self.folder = Path(folder)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        bottoms: dict[str, BottomK] = {}
        for doc in data:
            source = doc.metadata.get("source", "")
            cap = self.spec.source(source).cap
            if cap is not None and doc.metadata.get("split") not in self.spec.keep_splits:
                bottoms.setdefault(source, BottomK(cap)).add(cap_key(self.spec.seed, doc.id))
                self.stat_update(f"mix_scanned/{source}")
            yield doc
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f"{rank:05d}.json.tmp"
        tmp.write_text(json.dumps({s: {"k": b.k, "keys": b.sorted_keys()} for s, b in bottoms.items()}))
        tmp.replace(self.folder / f"{rank:05d}.json")


def load_thresholds(spec: MixSpec, folder: str | Path) -> dict[str, int | None]:
    """Merge every task's bottom-k keys into one cap threshold per capped source."""
    merged: dict[str, BottomK] = {}
    for path in sorted(Path(folder).glob("*.json")):
        for source, part in json.loads(path.read_text()).items():
            bottom = merged.setdefault(source, BottomK(part["k"]))
            for key in part["keys"]:
                bottom.add(key)
    return {
        s: (merged[s].threshold() if s in merged else None) for s in spec.sources if spec.source(s).cap is not None
    }


class MixApply(PipelineStep):
    """Second mixture pass: cap, weight and split every record (see corpusforge/instruct/mixing.py)."""

    name = "mix.apply"
    type = "🧮 - MIX"
    changes_cardinality = True

    def __init__(self, spec: MixSpec, scan_folder: str | Path | None = None):
        super().__init__()
        self.spec = spec
        self.scan_folder = scan_folder

    @cached_property
    def mixer(self) -> Mixer:
        capped = any(m.cap is not None for m in self.spec.sources.values())
        if capped and self.scan_folder is None:
            raise ValueError("a mixture with caps needs the folder written by MixScan")
        thresholds = load_thresholds(self.spec, self.scan_folder) if capped else {}
        return Mixer(self.spec, thresholds)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        report = MixtureReport()
        for doc in data:
            source = doc.metadata.get("source", "")
            decision = self.mixer.decide(doc.id, source, doc.metadata.get("split"))
            self.stat_update("documents_in")
            for key in report.stat_keys(source, decision):
                self.stat_update(key)
            if decision.dropped:
                self.stat_update("dropped", f"dropped_{decision.dropped}")
                continue
            self.stat_update("expanded")
            for copy_id, split, repeat in decision.copies:
                self.stat_update("documents_out")
                metadata = {**doc.metadata, "split": split}
                if "record" in metadata:
                    metadata["record"] = repeated(metadata["record"], copy_id, repeat)
                yield Document(text=doc.text, id=copy_id, metadata=metadata)


# ---- pseudo-label quality -------------------------------------------------------------------------------------
@register("filter.label_quality")
class LabelQualityFilter(BaseFilter):
    """Keep pseudo-labelled records whose label confidence / agreement reach the recipe's thresholds.

    Reads `confidence` and `agreement` from the record's meta (written by `instruct.pubmedqa_labels` from the
    label records of `corpusforge label`). Drops: `low_confidence`, `low_agreement`, and `no_confidence` /
    `no_agreement` when a threshold is set but the record has no such value. Records without a pseudo-label (no
    `label` in meta) pass untouched, so the filter can be shared by every source of a stage-3 recipe.
    """

    def __init__(self, min_confidence: float | None = None, min_agreement: float | None = None):
        super().__init__()
        self.min_confidence = min_confidence
        self.min_agreement = min_agreement

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        record = doc.metadata.get("record")
        meta = record_meta(record) if record else {}
        if "label" not in meta:
            return True
        for name, threshold in (("confidence", self.min_confidence), ("agreement", self.min_agreement)):
            if threshold is None:
                continue
            value = meta.get(name)
            if value is None:
                return False, f"no_{name}"
            passes = votes_reach(value, threshold) if name == "agreement" else value >= threshold
            if not passes:
                return False, f"low_{name}"
        return True


MAX_VOTERS = 32


def votes_reach(agreement: float, threshold: float) -> bool:
    """Whether k of n votes (agreement = k/n, however it was rounded when stored) reach `threshold`.

    Compared as votes, at the threshold's own precision (at least hundredths): k/n passes when, rounded to as
    many decimals as the threshold has, it is at least the threshold. So 0.67 keeps 2 of 3 (0.6667 as a float
    would not), 0.5 keeps 1 of 2, 0.7 and 0.75 keep 3 of 4 but not 2 of 3, and 1 keeps only unanimous votes.
    """
    votes = Fraction(agreement).limit_denominator(MAX_VOTERS)  # the exact k/n behind a stored float
    written = Decimal(repr(float(threshold))).normalize()
    decimals = max(2, -written.as_tuple().exponent)
    return votes >= Fraction(written) - Fraction(1, 2 * 10**decimals)
