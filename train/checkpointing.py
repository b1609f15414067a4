"""Checkpoints: DeepSpeed's own (model, optimizer, LR schedule, per-rank ZeRO shards) + what the loop adds.

Layout: OUTPUT/checkpoints/step-<N>/ (DeepSpeed's files, `config.yaml` = the resolved config, `rng-<rank>.pt`)
and OUTPUT/checkpoints/latest (written by DeepSpeed after a complete save, so a run killed during a save resumes
from the previous one). Frozen weights are not written (they are rebuilt from the config). The data position is
not stored: the batch schedule is a function of the global step (train/data/batching.py), which DeepSpeed's
client state carries, and the random state of every rank is restored, so a resumed run continues the same
loss curve.
"""

from __future__ import annotations

import logging
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
    if rank == 0:
        prune(root, keep)
        log.info(f"checkpoint saved: {folder}")
    return folder


def prune(root: Path, keep: int) -> None:
    steps = sorted((int(p.name.split("-")[1]), p) for p in root.glob("step-*") if p.name.split("-")[1].isdigit())
    for _, path in steps[:-keep]:
        shutil.rmtree(path, ignore_errors=True)


def latest_tag(output_dir: str | Path) -> str | None:
    latest = checkpoint_root(output_dir) / "latest"
    if not latest.is_file():
        return None
    tag = latest.read_text().strip()
    return tag if (checkpoint_root(output_dir) / tag).is_dir() else None


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
