"""Learning-rate schedules as multipliers of the peak LR (a torch LambdaLR that DeepSpeed steps and checkpoints).

- cosine: linear warmup, then cosine decay to `min_lr_ratio` (AntGLM-Med stage 1 ends at 10% of the peak);
- linear: linear warmup, then linear decay to `min_lr_ratio` (stage 3: "linear decay", warmup ratio 0.06);
- constant: linear warmup, then flat.
"""

from __future__ import annotations

import math


def warmup_steps(schedule, total_steps: int) -> int:
    if schedule.warmup_steps is not None:
        return min(schedule.warmup_steps, total_steps)
    return int(math.ceil(schedule.warmup_ratio * total_steps))


def lr_multiplier(step: int, total_steps: int, warmup: int, kind: str, min_ratio: float) -> float:
    """The LR factor used for optimizer step `step` (0-based)."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if kind == "constant":
        return 1.0
    span = max(total_steps - warmup, 1)
    progress = min(max(step - warmup, 0) / span, 1.0)
    if kind == "cosine":
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return min_ratio + (1 - min_ratio) * (1 - progress)


def build_scheduler(optimizer, schedule, total_steps: int):
    from torch.optim.lr_scheduler import LambdaLR

    warm = warmup_steps(schedule, total_steps)
    return LambdaLR(
        optimizer, lambda step: lr_multiplier(step, total_steps, warm, schedule.kind, schedule.min_lr_ratio)
    )
