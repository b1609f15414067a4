"""A label run owns its output directory and every process it starts (corpusforge/runtime/guard.py: the sweeper
and the stop signals); this module is its output lock.

The lock (OUTPUT/.corpusforge/label.lock) is the runtime's RunLock (an flock) held for the whole run, with the
holder's PID, host and command in the file. A second run on the same folder is refused with that PID; the lock
also marks the folder as a label output from the first moment, so a run killed while the model loads reruns as it
was.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from corpusforge.errors import BuildError
from corpusforge.label.output import LABEL_MARKER, check_label_directory
from corpusforge.output.dataset_dir import STATE_DIR
from corpusforge.runtime import guard
from corpusforge.runtime.lock import RunLock

LOCK_NAME = LABEL_MARKER

_held: dict[Path, RunLock] = {}  # output dirs whose lock this process holds -> the lock


def lock_path(output_dir: str | Path) -> Path:
    return Path(output_dir) / STATE_DIR / LOCK_NAME


class LabelOutputLock(RunLock):
    """The runtime's lock on OUTPUT/.corpusforge/label.lock: the file stays after the run (it marks the folder as a
    label output), and a refusal names the run.output setting."""

    started_format = "%Y-%m-%dT%H:%M:%S%z"

    def __init__(self, output_dir: str | Path):
        super().__init__(lock_path(output_dir), "corpusforge label run", command=sys.argv, keep_file=True)
        self.output_dir = output_dir

    def refusal(self) -> Exception:
        holder = self.holder()
        who = f"PID {holder.get('pid', '?')}"
        if holder.get("host"):
            who += f" on {holder['host']}"
        since = f", started {holder['started']}" if holder.get("started") else ""
        return BuildError(
            f"run.output: {self.output_dir} is in use by another corpusforge label run ({who}{since}); "
            f"wait for it to finish or stop it (kill {holder.get('pid', 'PID')}), then run this command again"
        )


def acquire_output_lock(output_dir: str | Path) -> int:
    """Take the output folder's lock (or refuse, naming the run that holds it); returns the lock's fd."""
    key = Path(output_dir).resolve()
    if key in _held:
        return _held[key].fd
    check_label_directory(output_dir)  # before the lock file makes any folder look like a label output
    _held[key] = LabelOutputLock(output_dir).acquire()
    return _held[key].fd


def release_output_lock(output_dir: str | Path) -> None:
    lock = _held.pop(Path(output_dir).resolve(), None)
    if lock is not None:
        lock.release()


@contextlib.contextmanager
def output_lock(output_dir: str | Path) -> Iterator[None]:
    """Hold the lock for the block, unless this process already holds it (the CLI's RunGuard)."""
    key = Path(output_dir).resolve()
    if key in _held:
        yield
        return
    acquire_output_lock(output_dir)
    try:
        yield
    finally:
        release_output_lock(output_dir)


class RunGuard(guard.RunGuard):
    """What the CLI wraps a label run in: the label output's lock, the sweeper and the stop signals."""

    def take_lock(self) -> int:
        return acquire_output_lock(self.output_dir)

    def release_lock(self) -> None:
        release_output_lock(self.output_dir)
