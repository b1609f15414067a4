"""The sweeper of one `corpusforge build` or `corpusforge label` run: when the command dies, nothing it started
survives it.

Run as a plain script (stdlib only, no corpusforge import) by corpusforge/runtime/guard.py:

    python sweeper.py PARENT_PID TOKEN [EARLIER_PIDS]

EARLIER_PIDS (comma-separated) are the command's descendants from before the run: when the run is called
in-process (a test runner, a notebook), what the caller had started is not the run's and is never swept.

vLLM's EngineCore does not stop when its parent is SIGKILLed (vllm-project/vllm#55510), nor does a local Ray
instance, a datatrove task process, or the pool workers and Manager server of datatrove's local executor. This
script does it for them: while the command lives it remembers the command's process tree; when the command is
gone (or asks, on a clean exit), every process of the run (see RunProcesses) gets SIGTERM, then SIGKILL after a
grace period. The environment token is the idea of Jenkins' ProcessTreeKiller (BUILD_ID in the environment).

The sweeper also holds the run's output lock (an inherited file descriptor), so the lock is free only once
nothing of the run is left.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time

ENV = "CORPUSFORGE_RUN"
POLL_S = 0.1
TREE_POLL_S = 0.5
GRACE_S = 3.0


def process_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (parent pid, process group, start time) of every process, from /proc/PID/stat."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp session ...
        if fields[0] == b"Z":  # a zombie has ended already; waiting for it to go would wait for its parent's reaping
            continue
        table[int(name)] = (int(fields[1]), int(fields[2]), int(fields[19]))
    return table


def has_token(pid: int, token: str) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f"{ENV}={token}".encode() in f.read().split(b"\0")
    except OSError:
        return False


def ignores_sigterm(pid: int) -> bool:
    """Whether the process ignores SIGTERM (its SigIgn mask in /proc/PID/status): such a process gets SIGKILL at
    once instead of after the grace period it would only wait out."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"SigIgn:"):
                    return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def is_resource_tracker(pid: int) -> bool:
    """multiprocessing's (or multiprocess's) resource tracker: it unlinks the semaphores and shared memory the run
    leaked once every process holding its pipe is gone, and then exits by itself. Killing it would leak them, and a
    command that is still exiting would start a new one that reports every later release as a KeyError."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"resource_tracker import main" in f.read()
    except OSError:
        return False


class RunProcesses:
    """Which processes belong to the run. Three marks, because each one alone misses some:

    - descendants of the command, remembered (pid and start time) while it is alive: once it is SIGKILLed its
      children are reparented to PID 1 and the tree is gone (a process that calls setproctitle, as vLLM's
      EngineCore does, overwrites the environment block /proc shows, so the token does not find it);
    - the token in the environment: whatever was started (exec'd) with the command's environment, even from a
      process started after the last look at the tree;
    - the command's process group, when the command leads one (started from a shell).
    """

    def __init__(self, parent: int, token: str, exclude: set[int]):
        self.parent, self.token = parent, token
        try:
            self.group = parent if os.getpgid(parent) == parent else None
        except OSError:  # already gone
            self.group = None
        self.known: dict[int, int] = {}  # pid -> start time
        # what the command's process had started before the run (when it runs in-process, e.g. under a test
        # runner: a server, a browser) is not the run's, nor is anything those start later
        self.exclude = set(exclude)

    def remember(self) -> None:
        """Add the command's current descendants (called while it is alive)."""
        table = process_table()
        roots = {self.parent} | set(self.known)
        changed = True
        while changed:
            changed = False
            for pid, (ppid, _, start) in table.items():
                if ppid in roots and pid not in roots and pid not in self.exclude:
                    roots.add(pid)
                    self.known[pid] = start
                    changed = True

    def _started_by_excluded(self, pid: int, table: dict[int, tuple[int, int, int]]) -> bool:
        seen = set()
        while pid in table and pid not in seen:
            seen.add(pid)
            pid = table[pid][0]
            if pid in self.exclude and pid != self.parent:
                return True
        return False

    def alive(self) -> list[int]:
        table = process_table()
        members = {pid for pid, start in self.known.items() if pid in table and table[pid][2] == start}
        for pid, (_, pgrp, _) in table.items():
            if pid in self.exclude or pid in members or self._started_by_excluded(pid, table):
                continue
            if (self.group is not None and pgrp == self.group) or has_token(pid, self.token):
                members.add(pid)
        changed = True
        while changed:  # and whatever those started since
            changed = False
            for pid, (ppid, _, _) in table.items():
                if ppid in members and pid not in members and pid not in self.exclude:
                    members.add(pid)
                    changed = True
        return sorted(pid for pid in members - self.exclude if not is_resource_tracker(pid))


def descendants(root: int, table: dict[int, tuple[int, int, int]]) -> list[int]:
    """Every process below `root` in `table`."""
    found: list[int] = []
    frontier = {root}
    while frontier:
        children = {pid for pid, (ppid, _, _) in table.items() if ppid in frontier and pid not in found}
        found.extend(children)
        frontier = children
    return found


def sweep(run: RunProcesses, grace_s: float = GRACE_S) -> int:
    """SIGTERM every process of the run, SIGKILL what is left after `grace_s`; returns how many there were."""
    seen: set[int] = set()
    deadline = time.monotonic() + grace_s
    sig = signal.SIGTERM
    while True:
        alive = run.alive()
        if not alive:
            return len(seen)
        if time.monotonic() > deadline:
            sig = signal.SIGKILL
        for pid in alive:
            if pid not in seen or sig == signal.SIGKILL:
                seen.add(pid)
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL if ignores_sigterm(pid) else sig)
        time.sleep(POLL_S)


def main() -> None:
    parent, token = int(sys.argv[1]), sys.argv[2]
    earlier = {int(pid) for pid in sys.argv[3].split(",") if pid} if len(sys.argv) > 3 else set()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # a Ctrl-C or a TERM to the group must not stop the cleanup
    if not os.path.isdir("/proc"):
        return  # Linux only; elsewhere the sweeper only holds the lock
    # the command itself is never signalled: it is gone, or it is exiting and waits for this sweep
    run = RunProcesses(parent, token, exclude={os.getpid(), parent} | earlier)
    while os.getppid() == parent:
        run.remember()
        ready, _, _ = select.select([sys.stdin], [], [], TREE_POLL_S)
        if ready:  # "stop" (a clean exit) or end of file (the command closed the pipe or died)
            break
    sweep(run)


if __name__ == "__main__":
    main()
