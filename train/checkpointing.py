"""Checkpoints: DeepSpeed's own (model, optimizer, LR schedule, per-rank ZeRO shards) + what the loop adds.

Layout: OUTPUT/checkpoints/step-<N>/ (DeepSpeed's files, `config.yaml` = the resolved config, `rng-<rank>.pt`)
and OUTPUT/checkpoints/complete, the tag of the last save that every rank finished, replaced atomically, so a run
killed during a save resumes from the previous one. DeepSpeed's own `latest` is not enough: it is truncated, then
written, and a SIGKILL in between left it empty, and the rerun failed inside DeepSpeed ("assert len(ckpt_list) >
0"); it is still read for checkpoints written before `complete` existed.

Frozen weights are not written (they are rebuilt from the config). The data position is not stored: the batch
schedule is a function of the global step (train/data/batching.py), which DeepSpeed's client state carries, and
the random state of every rank is restored, so a resumed run continues the same loss curve.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger("train")


def checkpoint_root(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def rng_state() -> dict[str, Any]:
    import random

    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    import random

    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(engine, output_dir: str | Path, step: int, config_yaml: str, rank: int, keep: int, frozen: bool) -> Path:
    """Write checkpoint step-<step> on every rank, then prune old ones (rank 0)."""
    import torch

    root = checkpoint_root(output_dir)
    tag = f"step-{step}"
    folder = root / tag
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(rng_state(), folder / f"rng-{rank}.pt")
    if rank == 0:
        (folder / "config.yaml").write_text(config_yaml, encoding="utf-8")
    engine.save_checkpoint(str(root), tag=tag, client_state={"global_step": step}, exclude_frozen_parameters=frozen)
    if rank == 0:  # save_checkpoint ends with a barrier: every rank's files are written
        mark_complete(root, tag)
        prune(root, keep)
        log.info(f"checkpoint saved: {folder}")
    return folder


def prune(root: Path, keep: int) -> None:
    steps = sorted((int(p.name.split("-")[1]), p) for p in root.glob("step-*") if p.name.split("-")[1].isdigit())
    for _, path in steps[:-keep]:
        shutil.rmtree(path, ignore_errors=True)


COMPLETE = "complete"  # OUTPUT/checkpoints/complete: the tag of the last finished save


def mark_complete(root: Path, tag: str) -> None:
    """Name `tag` the last finished save: written to a temporary file, then renamed over the old one."""
    partial = root / f"{COMPLETE}.partial"
    partial.write_text(tag)
    os.replace(partial, root / COMPLETE)


def latest_tag(output_dir: str | Path) -> str | None:
    """The checkpoint to resume from: `complete`'s tag, else DeepSpeed's `latest` (older runs); None when neither
    names an existing step folder (an empty file names nothing)."""
    root = checkpoint_root(output_dir)
    for name in (COMPLETE, "latest"):
        marker = root / name
        tag = marker.read_text().strip() if marker.is_file() else ""
        if tag and tag.startswith("step-") and (root / tag).is_dir():
            return tag
    return None


def resume(engine, output_dir: str | Path, rank: int, frozen: bool) -> int:
    """Load the latest complete checkpoint if there is one; returns the global step to continue from (0 if none)."""
    import torch

    tag = latest_tag(output_dir)
    if tag is None:
        return 0
    path, client = engine.load_checkpoint(str(checkpoint_root(output_dir)), tag=tag, load_module_strict=not frozen)
    if path is None:
        raise RuntimeError(f"{checkpoint_root(output_dir) / tag}: DeepSpeed could not load this checkpoint")
    rng_file = checkpoint_root(output_dir) / tag / f"rng-{rank}.pt"
    if rng_file.is_file():
        restore_rng(torch.load(rng_file, weights_only=False))
    else:
        log.warning(f"{rng_file}: missing (another world size?); random state not restored")
    step = int(client["global_step"])
    log.info(f"resumed from {checkpoint_root(output_dir) / tag} at step {step}")
    return step
