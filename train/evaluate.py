"""Evaluation inside a run: held-out loss, and multiple-choice accuracy / macro-F1 by option log-likelihood.

Both run on every rank over a shard of the data with the same number of forward passes per rank (padding the
shards by repeating work whose result is discarded), because under ZeRO-3 a forward pass is a collective.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("train")


def _to(batch: dict, device) -> dict:
    return {k: v.to(device) for k, v in batch.items()}


def eval_loss(engine, split, micro_size: int, rank: int, world: int, device) -> dict[str, float]:
    """Token-weighted NLL over the whole eval split (every row once)."""
    import torch

    rows = list(range(len(split.rows)))
    batches = [rows[i : i + micro_size] for i in range(0, len(rows), micro_size)]
    per_rank = -(-len(batches) // world)
    mine = batches[rank::world]
    totals = torch.zeros(2, dtype=torch.float64, device=device)  # sum of token NLL, number of target tokens
    engine.eval()
    with torch.no_grad():
        for j in range(per_rank):
            real = j < len(mine)
            batch, _, _ = split.collate(mine[j] if real else batches[0])
            batch = _to(batch, device)
            loss, _ = engine(**batch)
            if real:
                n_targets = int((batch["labels"][:, 1:] != -100).sum())
                totals += torch.tensor([float(loss) * n_targets, n_targets], dtype=torch.float64, device=device)
    engine.train()
    if world > 1:
        torch.distributed.all_reduce(totals)
    nll = float(totals[0] / max(float(totals[1]), 1.0))
    return {"eval_loss": nll, "eval_tokens": int(totals[1])}


def mc_eval(engine, module, tokenizer, items, cfg, rank: int, world: int) -> dict[str, Any]:
    """Accuracy / macro-F1 on multiple-choice items; every rank scores a shard, rank 0 gathers."""
    import torch

    from corpusforge.eval.mc_loglik import hf_logits_fn, predict, report, score_items

    per_rank = -(-len(items) // world)
    mine = items[rank * per_rank : (rank + 1) * per_rank]
    padded = mine + [items[0]] * (per_rank - len(mine))  # equal work on every rank (ZeRO-3 forwards are collective)
    engine.eval()
    scores = score_items(hf_logits_fn(module), tokenizer, padded, max_length=cfg.max_length)
    engine.train()
    scores = scores[: len(mine)]
    if world > 1:
        gathered: list[Any] = [None] * world
        torch.distributed.all_gather_object(gathered, scores)
        scores = [s for part in gathered for s in part]
    rep = report(items, predict(items, scores))
    return {"mc_accuracy": rep.accuracy, "mc_macro_f1": rep.macro_f1, "mc_n": rep.n}


def load_mc_items(cfg):
    from corpusforge.eval.mc_loglik import items_from_records, read_records

    records = list(read_records(cfg.path, cfg.split))
    records = [r for r in records if r.get("mc")]
    if cfg.max_items:
        records = records[: cfg.max_items]
    return items_from_records(records, f"{cfg.path} [{cfg.split}]")
