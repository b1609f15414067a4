"""Rows -> micro-batches: packing into bins, length bucketing, and the deterministic per-epoch schedule.

The schedule is a pure function of (seed, epoch, step), so resuming needs only the global step: the data a
resumed run sees is exactly what the uninterrupted run would have seen. Each optimizer step consumes
`world * accumulation` micro-batches; process r takes every world-th of them.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from train.data.chat import IGNORE_INDEX


def pack_into_bins(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Best-fit-decreasing bin packing of example lengths into rows of `capacity` tokens (examples stay whole)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # sorted (remaining capacity, bin index)
    for i in order:
        size = lengths[i]
        if size > capacity:
            raise ValueError(f"example {i} has {size} tokens > capacity {capacity}")
        at = bisect_left(free, (size, -1))
        if at < len(free):
            remaining, b = free.pop(at)
        else:
            remaining, b = capacity, len(bins)
            bins.append([])
        bins[b].append(i)
        if remaining - size > 0:
            insort(free, (remaining - size, b))
    return bins


@dataclass
class Rows:
    """What a micro-batch is made of: row r is the list of example indices `members[r]` (one unless packed)."""

    members: list[list[int]]
    lengths: np.ndarray  # tokens per row (sum of its members)

    def __len__(self) -> int:
        return len(self.members)


def single_rows(lengths: Sequence[int]) -> Rows:
    return Rows([[i] for i in range(len(lengths))], np.asarray(lengths, dtype=np.int64))


def packed_rows(lengths: Sequence[int], capacity: int) -> Rows:
    bins = pack_into_bins(lengths, capacity)
    return Rows(bins, np.asarray([sum(lengths[i] for i in b) for b in bins], dtype=np.int64))


@dataclass
class EpochSchedule:
    """Which rows form each micro-batch of each process, for every epoch, deterministically."""

    rows: Rows
    micro_size: int
    world_size: int
    accumulation: int
    seed: int
    bucket_by_length: bool = False
    bucket_span: int = 64  # micro-batches sorted together when bucketing

    @property
    def micro_batches_per_step(self) -> int:
        return self.world_size * self.accumulation

    @property
    def steps_per_epoch(self) -> int:
        return (len(self.rows) // self.micro_size) // self.micro_batches_per_step

    def epoch_micro_batches(self, epoch: int) -> list[list[int]]:
        """All micro-batches (lists of row indices) of one epoch, over all processes, in consumption order."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.rows))
        n_micro = len(order) // self.micro_size
        order = order[: n_micro * self.micro_size]
        if self.bucket_by_length:
            span = self.bucket_span * self.micro_size
            chunks = [order[i : i + span] for i in range(0, len(order), span)]
            order = np.concatenate([c[np.argsort(-self.rows.lengths[c], kind="stable")] for c in chunks])
        micro = [order[i : i + self.micro_size].tolist() for i in range(0, len(order), self.micro_size)]
        if self.bucket_by_length:  # similar lengths inside a micro-batch, random order between them
            micro = [micro[i] for i in rng.permutation(len(micro))]
        return micro[: self.steps_per_epoch * self.micro_batches_per_step]

    def step_micro_batches(self, epoch_batches: list[list[int]], step_in_epoch: int, rank: int) -> list[list[int]]:
        """This process's `accumulation` micro-batches for one optimizer step."""
        start = step_in_epoch * self.micro_batches_per_step
        window = epoch_batches[start : start + self.micro_batches_per_step]
        return window[rank :: self.world_size]


def padded_length(longest: int, multiple: int) -> int:
    return -(-longest // multiple) * multiple if multiple > 1 else longest


def collate_blocks(blocks: list[np.ndarray]):
    """Stage pt: equal-length blocks; every token is a target."""
    import torch

    ids = torch.as_tensor(np.stack(blocks).astype(np.int64))
    return {"input_ids": ids, "labels": ids.clone()}, int(ids.numel()), int(ids.numel())


def collate_chat(
    examples: list[list[dict]], pad_id: int, packed: bool, pad_multiple: int = 1, with_task_ids: bool = False
):
    """sft/adapt rows -> tensors. Each row is one example, or several packed ones with restarting position ids
    and no attention mask, so that transformers builds a block-diagonal mask (no attention across examples).
    Returns (batch, real tokens, all tokens) so padding efficiency can be measured on exactly what is trained."""
    import torch

    row_ids, row_labels, row_pos = [], [], []
    for row in examples:
        ids, labels, pos = [], [], []
        for ex in row:
            ids += ex["input_ids"]
            labels += ex["labels"]
            pos += range(len(ex["input_ids"]))
        row_ids.append(ids)
        row_labels.append(labels)
        row_pos.append(pos)
    width = padded_length(max(len(r) for r in row_ids), pad_multiple)
    real = sum(len(r) for r in row_ids)
    batch_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    batch_labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    batch_pos = torch.zeros((len(examples), width), dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for r, (ids, labels, pos) in enumerate(zip(row_ids, row_labels, row_pos)):
        n = len(ids)
        batch_ids[r, :n] = torch.as_tensor(ids)
        batch_labels[r, :n] = torch.as_tensor(labels)
        batch_pos[r, :n] = torch.as_tensor(pos)
        batch_pos[r, n:] = torch.arange(width - n)  # padding reads as one more (ignored) sequence
        mask[r, :n] = 1
    batch = {"input_ids": batch_ids, "labels": batch_labels}
    if packed:
        batch["position_ids"] = batch_pos
    else:
        batch["attention_mask"] = mask
    if with_task_ids:
        batch["task_ids"] = torch.as_tensor([row[0]["task_id"] for row in examples], dtype=torch.long)
    return batch, real, int(batch_ids.numel())
