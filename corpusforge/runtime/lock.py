"""One run per output directory: a lock file that a second run detects and refuses, naming the holder's PID.

The lock is an advisory `flock` on OUTPUT/<name>.lock, which also holds who took it (PID, host, command, time)
so that the refusal can say whom to wait for. The kernel drops a `flock` when its holder dies, even by SIGKILL,
so a lock left by a killed run is free again: the next run takes it over (and says so) instead of refusing
forever. The file descriptor can be handed to a child process (`fd`, e.g. a watchdog) so the lock lasts as long
as the last process of the run; while the holder is dead but its watchdog still ends the rest, a new run waits
for the lock (up to DEAD_HOLDER_WAIT_S) instead of refusing.

Build, label and train all use this one class: `keep_file` leaves the file in place after release (a label output's
lock marks the folder; a label task's lock and device slots live beside its files), `try_acquire` only takes the
flock (no record, no refusal), and a subclass may word its own `refusal`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from corpusforge.errors import InputError

log = logging.getLogger(__name__)

#: how long to wait for a lock whose holder is dead (its watchdog or sweeper ending what the run left) before
#: refusing; build, label and train locks alike
DEAD_HOLDER_WAIT_S = 15.0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """`with RunLock(path, "training run"):` — InputError naming the holder when another run has it."""

    #: how the holder's record says when it took the lock
    started_format = "%Y-%m-%d %H:%M:%S"

    def __init__(
        self, path: str | Path, what: str = "run", command: list[str] | None = None, *, keep_file: bool = False
    ):
        self.path = Path(path)
        self.what = what
        self.command = " ".join(command if command is not None else ["corpusforge", *sys.argv[1:]])
        # keep_file: the file stays after release (a label output's lock also marks the folder as one); a record
        # left in it then says nothing about a dead holder, so there is no take-over note
        self.keep_file = keep_file
        self.fd: int | None = None
        self.took_over: dict | None = None  # the previous holder's record, when its process was gone

    def holder(self) -> dict:
        """What the lock file says about its holder ({} when unreadable or empty)."""
        for _ in range(3):  # the holder may be writing it right now
            try:
                text = self.path.read_text(encoding="utf-8")
                return json.loads(text) if text.strip() else {}
            except (OSError, ValueError):
                time.sleep(0.05)
        return {}

    def try_acquire(self, wait: bool = False) -> bool:
        """Take the flock, no more (no record, no refusal): False when another process holds it and not `wait`."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return False
            # the file may have been unlinked by its previous holder between our open and our flock: retry on
            # the file that is there now, or two runs could each hold a lock on a different inode
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return True
            os.close(fd)

    def acquire(self) -> RunLock:
        """Take the lock and write this process's record into it, or raise `refusal()` naming the holder."""
        deadline = time.monotonic() + DEAD_HOLDER_WAIT_S
        while not self.try_acquire():
            holder = self.holder()
            here = holder.get("host", socket.gethostname()) == socket.gethostname()
            if here and holder.get("pid") and not pid_alive(holder["pid"]) and time.monotonic() < deadline:
                time.sleep(0.2)  # its command is gone; its sweeper or watchdog is ending the rest and will let go
                continue
            raise self.refusal() from None
        previous = self.holder()
        if previous.get("pid") and not self.keep_file:
            self.took_over = previous
            log.warning(
                "%s: taking over the lock of PID %s (%s), which is no longer running",
                self.path,
                previous.get("pid"),
                previous.get("command", "?"),
            )
        self.write_record(
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "command": self.command,
                "started": time.strftime(self.started_format),
            }
        )
        return self

    def write_record(self, record: dict) -> None:
        """Replace the file's content (who holds the lock) with `record`; only while holding it."""
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, (json.dumps(record) + "\n").encode(), 0)

    def refusal(self) -> Exception:
        """The error a run gets when another one holds the lock."""
        return InputError(self._refusal())

    def _refusal(self) -> str:
        h = self.holder()
        who = f"PID {h.get('pid', '?')}"
        if h.get("host") and h["host"] != socket.gethostname():
            who += f" on {h['host']}"
        details = ", ".join(x for x in (f"`{h['command']}`" if h.get("command") else "", h.get("started", "")) if x)
        return (
            f"{self.path.parent} is in use by another {self.what}: {who}"
            + (f" ({details})" if details else "")
            + f"\n  wait for it to finish or stop it (kill {h.get('pid', 'PID')}), then rerun the same command"
        )

    def release(self) -> None:
        if self.fd is None:
            return
        if not self.keep_file:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # while still holding it: a waiting run retries on the new file (try_acquire)
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


@contextlib.contextmanager
def held_lock(path: Path, info: dict[str, Any] | None = None, wait: bool = False) -> Iterator[bool]:
    """`with held_lock(path) as mine:` a RunLock on `path` that keeps its file, for locks that mark a part of a run
    (a label task, a device slot); yields whether it was taken (wait=False never blocks), writes `info` if given."""
    lock = RunLock(path, keep_file=True)
    if not lock.try_acquire(wait):
        yield False
        return
    try:
        if info is not None:
            lock.write_record(info)
        yield True
    finally:
        lock.release()
