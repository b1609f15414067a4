"""What every method hands to the loop: a module whose forward(batch) returns (loss, parts to log)."""

from __future__ import annotations

import torch
from torch import nn


class TaskContext:
    """The task ids of the batch being computed, read by task-routed adapters inside the forward pass."""

    def __init__(self):
        self.task_ids: torch.Tensor | None = None

    def require(self) -> torch.Tensor:
        if self.task_ids is None:
            raise ValueError("this model routes by task: pass task_ids (one per example) to forward")
        return self.task_ids


class AuxLosses:
    """Loss terms that adapters add during the forward pass (computed there so ZeRO-3 has the weights gathered)."""

    def __init__(self):
        self.terms: list[torch.Tensor] = []

    def reset(self) -> None:
        self.terms = []

    def total(self) -> torch.Tensor | None:
        return torch.stack([t.float() for t in self.terms]).sum() if self.terms else None


class TrainModule(nn.Module):
    """A causal LM plus what its method needs around the forward pass (task ids, auxiliary losses)."""

    def __init__(
        self,
        lm: nn.Module,
        task_context: TaskContext | None = None,
        aux: AuxLosses | None = None,
        aux_name: str = "aux",
        aux_weight: float = 1.0,
    ):
        super().__init__()
        self.lm = lm
        self.task_context = task_context
        self.aux = aux
        self.aux_name = aux_name
        self.aux_weight = aux_weight

    def forward(self, input_ids, labels, attention_mask=None, position_ids=None, task_ids=None):
        if self.task_context is not None:
            self.task_context.task_ids = task_ids
        if self.aux is not None:
            self.aux.reset()
        # no KV cache: training does not need one, and with a cache transformers ignores the packed-sequence
        # position ids and lets packed examples attend to each other
        out = self.lm(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            labels=labels,
            use_cache=False,
        )
        loss = out.loss
        parts = {"nll": loss.detach()}
        if self.aux is not None and (extra := self.aux.total()) is not None:
            parts[self.aux_name] = extra.detach()
            loss = loss + self.aux_weight * extra
        return loss, parts

    def logits(self, input_ids, attention_mask=None, task_ids=None, **kwargs) -> torch.Tensor:
        """Logits for scoring (no labels, no auxiliary losses); kwargs go to the LM (position_ids, logits_to_keep)."""
        if self.task_context is not None:
            self.task_context.task_ids = task_ids
        return self.lm(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, **kwargs).logits


def freeze(module: nn.Module) -> None:
    for p in module.parameters():
        p.requires_grad_(False)


def trainable_summary(module: nn.Module) -> str:
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return f"trainable {trainable:,} / {total:,} parameters ({100 * trainable / max(total, 1):.3f}%)"
