"""The label record (schemas/label.schema.json) and its explicit arrow schema.

Stage 3 filters on two fields, named so a reader can guess them: `confidence` (the probability, normalized over
the options, of the chosen label) and `agreement` (the fraction of the strategies that chose it; 1.0 for a single
labelled strategy). An item the model could not label has `label: null`, an `unlabeled_reason`, and its raw answer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from corpusforge.label.config import LabelJob
from corpusforge.label.items import LabelItem
from corpusforge.label.strategies import StrategyOutcome, vote

NO_STRATEGY_LABELED = "no_strategy_labeled"


@dataclass
class Ledger:
    """What an item's requests cost (cached requests keep the cost of the run that computed them)."""

    requests: int = 0
    cached_requests: int = 0
    compute_seconds: float = 0.0
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class RecordContext:
    """Per-job values every record repeats."""

    job: LabelJob
    backend: str
    template_hashes: dict[str, str]
    sampling: str = field(init=False)
    template_hash: str = field(init=False)

    def __post_init__(self) -> None:
        job = self.job
        self.sampling = json.dumps(
            {
                **job.sampling.model_dump(mode="json"),
                "answer": job.answer.model_dump(mode="json"),
                "ppl": job.ppl.model_dump(mode="json"),
                "chat": job.task.chat,
                "use_long_answer": job.task.use_long_answer,
            },
            sort_keys=True,
        )
        hashes = [self.template_hashes[s] for s in job.strategies]
        self.template_hash = (
            hashes[0] if len(hashes) == 1 else hashlib.sha256("".join(hashes).encode()).hexdigest()[:16]
        )


def build_record(item: LabelItem, outcomes: list[StrategyOutcome], ledger: Ledger, ctx: RecordContext) -> dict:
    job = ctx.job
    text_of = {o.key: o.text for o in job.task.options}
    keys = tuple(text_of)

    def by_text(values: dict[str, float] | None) -> dict[str, float] | None:
        return None if values is None else {text_of[k]: float(v) for k, v in values.items()}

    members = [
        {
            "strategy": o.strategy,
            "label": text_of.get(o.key) if o.key else None,
            "label_key": o.key,
            "confidence": o.option_probs.get(o.key) if (o.key and o.option_probs) else None,
            "option_probs": by_text(o.option_probs),
            "scores": by_text(o.scores),
            "steps": [{"step": s.step, "option": s.option, "attempt": s.attempt, "text": s.text} for s in o.steps],
            "raw_answer": o.raw_answer,
            "attempts": o.attempts,
            "parse_failures": o.parse_failures,
            "unlabeled_reason": o.unlabeled_reason if not o.key else None,
            "template_hash": o.template_hash,
            "stated_label": text_of.get(o.stated_key) if o.stated_key else None,
            "constrained_label": text_of.get(o.constrained_key) if o.constrained_key else None,
            "label_source": o.label_source if o.key else None,
            "disagreement": o.disagreement,
            "generations": o.generations,
            "truncated": o.truncated,
            "repetition_loops": o.repetition_loops,
        }
        for o in outcomes
    ]
    if job.strategy == "ensemble":
        result = vote(outcomes, keys)
        key, confidence, agreement = result.key, result.confidence, result.agreement
        option_probs = _mean_probs(outcomes, keys)
        votes = {text_of[k]: n for k, n in result.counts.items()}
        raw_answer = None
        reason = None if key else NO_STRATEGY_LABELED
    else:
        only = members[0]
        key, confidence = only["label_key"], only["confidence"]
        agreement = 1.0 if key else None
        option_probs = outcomes[0].option_probs
        votes = None
        raw_answer = only["raw_answer"]
        reason = only["unlabeled_reason"]
    return {
        "id": f"{job.task.name}:{item.id}",
        "pmid": item.id,
        "question": item.question,
        "label": text_of.get(key) if key else None,
        "label_key": key,
        "confidence": confidence,
        "option_probs": by_text(option_probs),
        "agreement": agreement,
        "unlabeled_reason": reason,
        "raw_answer": raw_answer,
        "strategy": job.strategy,
        "strategies": members,
        "vote": votes,
        "gold": item.gold,
        "model": job.model.name,
        "backend": ctx.backend,
        "template_hash": ctx.template_hash,
        "sampling": ctx.sampling,
        "timings": ledger.to_dict(),
        "provenance": {"location": item.location},
    }


def _mean_probs(outcomes: list[StrategyOutcome], keys: tuple[str, ...]) -> dict[str, float] | None:
    probs = [o.option_probs for o in outcomes if o.option_probs]
    if not probs:
        return None
    return {k: sum(p.get(k, 0.0) for p in probs) / len(probs) for k in keys}


def arrow_schema(job: LabelJob):
    """Fixed column types (inference would turn an all-null column into a null type and break concatenation)."""
    import pyarrow as pa

    texts = [o.text for o in job.task.options]
    probs = pa.struct([pa.field(t, pa.float64()) for t in texts])
    counts = pa.struct([pa.field(t, pa.int64()) for t in texts])
    step = pa.struct(
        [
            pa.field("step", pa.string()),
            pa.field("option", pa.string()),
            pa.field("attempt", pa.int64()),
            pa.field("text", pa.string()),
        ]
    )
    member = pa.struct(
        [
            pa.field("strategy", pa.string()),
            pa.field("label", pa.string()),
            pa.field("label_key", pa.string()),
            pa.field("confidence", pa.float64()),
            pa.field("option_probs", probs),
            pa.field("scores", probs),
            pa.field("steps", pa.list_(step)),
            pa.field("raw_answer", pa.string()),
            pa.field("attempts", pa.int64()),
            pa.field("parse_failures", pa.int64()),
            pa.field("unlabeled_reason", pa.string()),
            pa.field("template_hash", pa.string()),
            pa.field("stated_label", pa.string()),
            pa.field("constrained_label", pa.string()),
            pa.field("label_source", pa.string()),
            pa.field("disagreement", pa.bool_()),
            pa.field("generations", pa.int64()),
            pa.field("truncated", pa.int64()),
            pa.field("repetition_loops", pa.int64()),
        ]
    )
    timings = pa.struct(
        [
            pa.field("requests", pa.int64()),
            pa.field("cached_requests", pa.int64()),
            pa.field("compute_seconds", pa.float64()),
            pa.field("prompt_tokens", pa.int64()),
            pa.field("cached_prompt_tokens", pa.int64()),
            pa.field("completion_tokens", pa.int64()),
        ]
    )
    return pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field("pmid", pa.string()),
            pa.field("question", pa.string()),
            pa.field("label", pa.string()),
            pa.field("label_key", pa.string()),
            pa.field("confidence", pa.float64()),
            pa.field("option_probs", probs),
            pa.field("agreement", pa.float64()),
            pa.field("unlabeled_reason", pa.string()),
            pa.field("raw_answer", pa.string()),
            pa.field("strategy", pa.string()),
            pa.field("strategies", pa.list_(member)),
            pa.field("vote", counts),
            pa.field("gold", pa.string()),
            pa.field("model", pa.string()),
            pa.field("backend", pa.string()),
            pa.field("template_hash", pa.string()),
            pa.field("sampling", pa.string()),
            pa.field("timings", timings),
            pa.field("provenance", pa.struct([pa.field("location", pa.string())])),
        ]
    )
