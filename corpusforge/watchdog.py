"""The leader of a run's process group: it starts the command, and kills the whole group when the process that
started it dies.

Run as a script (standard library only, so it starts in milliseconds): `python watchdog.py PARENT_PID CMD...`.
corpusforge.procgroup starts it as the leader of a new session; the command and everything it starts stay in
its process group. A parent killed with SIGKILL cannot forward anything, so this process notices instead: on
Linux the kernel sends it SIGUSR1 the moment its parent dies (PR_SET_PDEATHSIG), elsewhere it sees its parent
PID change (polled). Either way it sends SIGKILL to its group, itself included, so no process of the run is
left writing outputs. Otherwise it exits with the command's exit code (128 + N for a command killed by N).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

POLL_S = 0.2
PR_SET_PDEATHSIG = 1


def arm_parent_death_signal(signum: int) -> None:
    """Linux: have the kernel send `signum` when the parent dies; a no-op elsewhere (polling covers it)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def kill_group() -> None:
    os.killpg(os.getpgrp(), signal.SIGKILL)


def main(parent: int, cmd: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping is the parent's decision, not a terminal's
    signal.signal(signal.SIGTERM, lambda *_: kill_group())  # this process ending means the run ends
    signal.signal(signal.SIGUSR1, lambda *_: os.getppid() != parent and kill_group())
    arm_parent_death_signal(signal.SIGUSR1)
    if os.getppid() != parent:  # the parent died before the death signal was armed
        kill_group()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    while True:
        try:
            code = proc.wait(POLL_S)
            break
        except subprocess.TimeoutExpired:
            if os.getppid() != parent:  # also where there is no PR_SET_PDEATHSIG
                kill_group()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), sys.argv[2:]))
