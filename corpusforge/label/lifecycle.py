"""A label run owns its output directory and every process it starts (corpusforge/runtime/guard.py: the sweeper
and the stop signals); this module is its output lock.

The lock (OUTPUT/.corpusforge/label.lock) is an flock held for the whole run, with the holder's PID, host and
command in the file. A second run on the same folder is refused with that PID; the lock also marks the folder as a
label output from the first moment, so a run killed while the model loads reruns as it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from corpusforge.errors import BuildError
from corpusforge.label.output import LABEL_MARKER, check_label_directory
from corpusforge.output.dataset_dir import STATE_DIR
from corpusforge.runtime import guard
from corpusforge.runtime.lock import DEAD_HOLDER_WAIT_S, pid_alive

LOCK_NAME = LABEL_MARKER

_held: dict[Path, int] = {}  # output dirs whose lock this process holds -> lock fd


def lock_path(output_dir: str | Path) -> Path:
    return Path(output_dir) / STATE_DIR / LOCK_NAME


def _holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def acquire_output_lock(output_dir: str | Path) -> int:
    """Take the output folder's lock (or refuse, naming the run that holds it); returns the lock's fd."""
    key = Path(output_dir).resolve()
    if key in _held:
        return _held[key]
    check_label_directory(output_dir)  # before the lock file makes any folder look like a label output
    path = lock_path(output_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + DEAD_HOLDER_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            holder = _holder(path)
            pid = holder.get("pid")
            if not (pid and pid_alive(pid)) and time.monotonic() < deadline:
                time.sleep(0.2)  # its command is gone; its sweeper is ending the rest and will let go
                continue
            os.close(fd)
            who = f"PID {holder.get('pid', '?')}"
            if holder.get("host"):
                who += f" on {holder['host']}"
            since = f", started {holder['started']}" if holder.get("started") else ""
            raise BuildError(
                f"run.output: {output_dir} is in use by another corpusforge label run ({who}{since}); "
                f"wait for it to finish or stop it (kill {holder.get('pid', 'PID')}), then run this command again"
            ) from None
    os.ftruncate(fd, 0)
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(sys.argv),
    }
    os.pwrite(fd, json.dumps(info).encode(), 0)
    _held[key] = fd
    return fd


def release_output_lock(output_dir: str | Path) -> None:
    fd = _held.pop(Path(output_dir).resolve(), None)
    if fd is not None:
        os.close(fd)


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
