"""Run a command that starts processes of its own (the DeepSpeed launcher and its ranks, an engine and its
workers) so that this process owns all of them: they are signalled together and none outlives the run.

- The command runs in a process group of its own (a new session, no terminal), as the child of a small
  watchdog (watchdog.py) that leads the group. Every process it starts stays in that group unless it leaves
  on purpose, so the group is the run. `proc` is the watchdog; it exits with the command's exit code.
- If this process dies, even by SIGKILL, the watchdog kills the group, and the descendants that left it, within
  a fraction of a second; when the command exits, the watchdog ends what it left running.
- `kill()` ends whatever is left (the caller does it on every exit path), and `members()` lists the group so a
  caller can forward a signal to the processes that should stop cleanly (e.g. the training ranks).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

WATCHDOG = Path(__file__).with_name("watchdog.py")


def group_members(pgid: int) -> list:
    """Live (not zombie) processes of process group `pgid`."""
    import psutil

    members = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                members.append(p)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def describe(process) -> str:
    import psutil

    try:
        return f"{process.pid} ({' '.join(process.cmdline())[:120]})"
    except psutil.Error:
        return str(process.pid)


class ProcessGroup:
    """`with ProcessGroup(cmd) as group: code = group.wait()` — see the module docstring."""

    def __init__(
        self,
        cmd: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
        keep_fds: tuple[int, ...] = (),
        **popen_kwargs,
    ):
        self.cmd, self.env, self.cwd = cmd, env, cwd
        self.keep_fds = keep_fds  # for the watchdog only (e.g. a RunLock's fd: the lock lasts as long as the group)
        self.popen_kwargs = popen_kwargs
        self.proc: subprocess.Popen | None = None  # the watchdog, which runs the command and exits with its code
        self.pgid: int | None = None

    def start(self) -> subprocess.Popen:
        """Start the watchdog, which starts the command; `proc` (and `wait()`) stand for the command."""
        self.proc = subprocess.Popen(
            [sys.executable, str(WATCHDOG), str(os.getpid()), *self.cmd],
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
            pass_fds=self.keep_fds,
            stdin=subprocess.DEVNULL,
            **self.popen_kwargs,
        )
        self.pgid = self.proc.pid
        return self.proc

    def members(self, select: Callable | None = None) -> list:
        """The group's live processes but the watchdog, optionally filtered by `select(psutil.Process)`."""
        if self.pgid is None:
            return []
        found = [p for p in group_members(self.pgid) if p.pid != self.pgid]
        return [p for p in found if select is None or _safe(select, p)]

    def send(self, signum: int, select: Callable | None = None) -> list[int]:
        """Send `signum` to the members `select` picks (all but the watchdog by default); returns their PIDs."""
        import psutil

        sent = []
        for p in self.members(select):
            try:
                p.send_signal(signum)
                sent.append(p.pid)
            except psutil.Error:
                pass
        return sent

    def wait(self, timeout: float | None = None) -> int | None:
        """The command's exit code, or None if it is still running after `timeout` seconds."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self, timeout: float = 10.0) -> list[str]:
        """SIGKILL the group and every descendant (also those in groups of their own, such as the compilers ninja
        starts) and wait until they are gone; returns what was still running but the watchdog, to report."""
        import psutil

        if self.pgid is None:
            return []
        try:
            tree = psutil.Process(self.pgid).children(recursive=True)
        except psutil.Error:
            tree = []
        doomed = {p.pid: p for p in [*tree, *self.members()]}
        leftovers = [describe(p) for p in doomed.values()]
        for p in doomed.values():
            with contextlib.suppress(psutil.Error):
                p.kill()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)
        psutil.wait_procs(list(doomed.values()), timeout=timeout)
        deadline = time.monotonic() + timeout
        while group_members(self.pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return leftovers

    def __enter__(self) -> ProcessGroup:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.kill()


def _safe(select: Callable, process) -> bool:
    import psutil

    try:
        return bool(select(process))
    except psutil.Error:
        return False
