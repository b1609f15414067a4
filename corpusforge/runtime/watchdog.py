"""The leader of a run's process group: it starts the command, and kills everything the command started when
the process that started it dies.

Run as a script (standard library only, so it starts in milliseconds): `python watchdog.py PARENT_PID CMD...`.
corpusforge.runtime.procgroup starts it as the leader of a new session; the command and everything it starts stay in
its process group, except what moves to a group of its own on purpose (ninja runs each compiler in its own
group): those are still its descendants, because it is their subreaper on Linux (PR_SET_CHILD_SUBREAPER), so
orphans are adopted by it rather than by init.

A parent killed with SIGKILL cannot forward anything, so this process notices instead: on Linux the kernel
sends it SIGUSR1 the moment its parent dies (PR_SET_PDEATHSIG), elsewhere it sees its parent PID change
(polled). It then SIGKILLs its descendants and its group, itself included. When the command exits, whatever
it left running is killed too, and this process exits with the command's exit code (128 + N if killed by N).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

POLL_S = 0.2
REAP_EVERY_S = 2.0
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def prctl(option: int, value: int) -> None:
    """Linux only; a no-op elsewhere (polling and the process group cover most of it there)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def parents() -> dict[int, int]:
    """{pid: parent pid} of every process (Linux /proc; empty elsewhere)."""
    table = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", "rb") as f:
                        stat = f.read()
                    table[int(entry)] = int(stat.rsplit(b")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
    return table


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in parents().items():
        children.setdefault(ppid, []).append(pid)
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill_descendants() -> None:
    for _ in range(3):  # a process may fork while the first pass runs; killed processes fork no more
        pids = descendants(os.getpid())
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def kill_all() -> None:
    kill_descendants()
    os.killpg(os.getpgrp(), signal.SIGKILL)


def reap_orphans(keep: int) -> None:
    """Adopted orphans that exited are ours to reap (but never the command: Popen waits for that one)."""
    for pid, ppid in parents().items():
        if ppid == os.getpid() and pid != keep:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)


def main(parent: int, cmd: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping is the parent's decision, not a terminal's
    signal.signal(signal.SIGTERM, lambda *_: kill_all())  # this process ending means the run ends
    signal.signal(signal.SIGUSR1, lambda *_: os.getppid() != parent and kill_all())
    prctl(PR_SET_PDEATHSIG, signal.SIGUSR1)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    if os.getppid() != parent:  # the parent died before the death signal was armed
        kill_all()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    next_reap = time.monotonic() + REAP_EVERY_S
    while True:
        try:
            code = proc.wait(POLL_S)
            break
        except subprocess.TimeoutExpired:
            if os.getppid() != parent:  # also where there is no PR_SET_PDEATHSIG
                kill_all()
            if time.monotonic() > next_reap:
                reap_orphans(proc.pid)
                next_reap = time.monotonic() + REAP_EVERY_S
    kill_descendants()  # what the command left behind ends with it
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), sys.argv[2:]))
