"""How a training process starts, reports and stops.

- Stop: SIGTERM or SIGINT during the start-up ends the process at once (there is nothing to save yet); during
  training it only sets a flag, which every rank checks after each optimizer step (all ranks agree through one
  small all-reduce), so all of them save the same checkpoint and exit with EXIT_STOPPED. `corpusforge train`
  sends SIGTERM to the ranks when it is stopped; a scheduler that sends SIGTERM to every process (Slurm) gets
  the same clean stop.
- Lock: rank 0 holds OUTPUT/train.lock unless `corpusforge train` holds it for the run (LOCK_ENV names it).
- Progress: rank 0 prints a heartbeat line at least every 30 s when its output is not a terminal: the start-up
  phase (naming a DeepSpeed op compile, first run only), then step/total, rate and ETA.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

log = logging.getLogger("train")

EXIT_STOPPED = 75  # EX_TEMPFAIL: stopped on request after saving a checkpoint; rerun the same command to resume
LOCK_ENV = "CORPUSFORGE_TRAIN_LOCK"
LOCK_NAME = "train.lock"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopFlag:
    """Signal handling of one training process (see the module docstring)."""

    def __init__(self):
        self.signum: int | None = None
        self.training = False

    def install(self) -> StopFlag:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        first = self.signum is None
        self.signum = signum
        if not self.training:
            log.warning(f"{signal.Signals(signum).name} during start-up: stopping (nothing to save yet)")
            raise SystemExit(EXIT_STOPPED)
        if first:
            log.warning(f"{signal.Signals(signum).name}: stopping after this step, with a checkpoint")

    def begin_training(self) -> None:
        self.training = True

    def requested(self, world: int, device) -> bool:
        """Collective: True on every rank as soon as any rank was asked to stop."""
        flag = self.signum is not None
        if world > 1:
            import torch

            t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
            torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
            flag = bool(t.item())
        return flag


def hold_lock(output_dir: Path, rank: int):
    """The run's lock, taken by rank 0 unless `corpusforge train` already holds it for this output (None then)."""
    from corpusforge.runtime.lock import RunLock

    path = output_dir / LOCK_NAME
    held_by_cli = os.environ.get(LOCK_ENV)
    if rank != 0 or (held_by_cli and Path(held_by_cli).resolve() == path.resolve()):
        return None
    return RunLock(path, "training run").acquire()


def startup_status(phase: str) -> str:
    """The phase, or the DeepSpeed ops being compiled right now (which is what takes the time then)."""
    from train.ops import compiling_ops

    ops = compiling_ops()
    if ops:
        return f"compiling DeepSpeed ops (first run only): {', '.join(ops)}"
    return phase
