"""`corpusforge train` owns the run it launches: the lock, the process group, the stop, the clean-up.

DeepSpeed's launcher does not do this for us (deepspeed/launcher/runner.py and launch.py, 0.19): on one node
the `deepspeed` command handles no signal at all, so SIGTERM kills it and leaves launch.py and the ranks running;
launch.py forwards SIGINT/SIGTERM to the ranks but kills them with SIGKILL 30 s later, whatever they are doing;
and nothing notices when the command that started them dies. So:

1. OUTPUT/train.lock is taken first (corpusforge.runtime.lock): a second run into the same output is refused and
   told the PID; a lock left by a killed run is taken over.
2. The launcher runs in a process group of its own with a watchdog (corpusforge.runtime.procgroup): if this process
   is killed, even with SIGKILL, the watchdog kills the launcher and every rank within a fraction of a second.
3. SIGINT/SIGTERM/SIGHUP here send SIGTERM to the ranks themselves (not to the launcher, so its 30 s timer does
   not start): they finish the current step, save a checkpoint and exit (train/lifecycle.py). A second signal,
   or STOP_GRACE_S without an exit, kills the group. Several nodes (--hostfile): SIGINT goes to DeepSpeed's
   runner, whose handler stops the remote ranks through pdsh (no checkpoint then).
4. On every way out, whatever is left of the group is killed, DeepSpeed's CPU all-reduce buffers of the run's
   rendezvous port, and those of earlier killed runs that no process maps, are unlinked from /dev/shm
   (train.runtime.shm_buffers; one node only), and the lock released.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from corpusforge.errors import ConfigError, StopRequested
from corpusforge.runtime.lock import RunLock
from corpusforge.runtime.procgroup import ProcessGroup
from train.lifecycle import EXIT_STOPPED, LOCK_ENV, LOCK_NAME
from train.runtime import remove_shm_buffers, remove_stale_shm_buffers

STOP_GRACE_S = 600.0
HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def say(message: str) -> None:
    print(f"corpusforge train: {message}", file=sys.stderr, flush=True)


def is_rank(process) -> bool:
    """A training process started by DeepSpeed's launch.py (`python -u run.py --local_rank=N ...`)."""
    cmdline = process.cmdline()
    return any(a.startswith("--local_rank=") for a in cmdline) and "deepspeed.launcher.launch" not in cmdline


class Stopper:
    """The CLI's SIGINT/SIGTERM/SIGHUP handler while the launcher runs."""

    def __init__(self, group: ProcessGroup, multi_node: bool):
        self.group, self.multi_node = group, multi_node
        self.signum: int | None = None
        self.deadline: float | None = None
        self.killed = False
        self.ranks: list[int] = []  # the ranks asked to stop
        self._previous: dict[int, object] = {}

    def install(self) -> None:
        for sig in HANDLED:
            self._previous[sig] = signal.signal(sig, self.handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def handle(self, signum, frame) -> None:
        if self.signum is not None:
            say(f"{signal.Signals(signum).name} again: killing the run now")
            self.kill()
            return
        self.signum, self.deadline = signum, time.monotonic() + STOP_GRACE_S
        if self.multi_node:
            self.group.send(signal.SIGINT, select=lambda p: p.ppid() == self.group.pgid)  # DeepSpeed's runner
            say(f"{signal.Signals(signum).name}: stopping the ranks on every node")
            return
        ranks = self.group.send(signal.SIGTERM, select=is_rank)
        self.ranks = ranks
        if not ranks:  # the launcher has not started them yet: nothing to save
            self.kill()
            say(f"{signal.Signals(signum).name}: stopped before the training processes started")
            return
        say(
            f"{signal.Signals(signum).name}: the training processes {ranks} save a checkpoint after the current "
            "step and exit (send the signal again to kill them at once)"
        )

    def kill(self) -> None:
        self.killed = True
        self.group.kill(timeout=0)  # the group and the descendants outside it; the wait happens in supervise()

    def ranks_done(self) -> bool:
        """The ranks asked to stop have all exited: the launcher's own slow exit (it imports DeepSpeed, whose
        teardown takes seconds) need not be waited for."""
        from corpusforge.runtime.lock import pid_alive

        return bool(self.ranks) and not any(pid_alive(pid) and not _zombie(pid) for pid in self.ranks)

    def overdue(self) -> bool:
        return self.deadline is not None and not self.killed and time.monotonic() > self.deadline


def _zombie(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def stop_message(output_dir: Path, signum: int | None, killed: bool, code: int | None) -> str:
    from train.checkpointing import checkpoint_root, latest_tag

    what = signal.Signals(signum).name if signum else f"the training processes exited with {code}"
    tag = latest_tag(output_dir)
    where = f"the latest checkpoint is {checkpoint_root(output_dir) / tag}" if tag else "no checkpoint yet"
    how = "killed before a clean stop" if killed else "stopped"
    return f"{how} ({what}); {where}; rerun the same command to resume"


def supervise(cmd: list[str], output_dir: Path, multi_node: bool = False, port: int | None = None) -> int:
    """Run the launcher command as described in the module docstring; returns its exit code (0: finished).

    Raises StopRequested when the run was stopped (by a signal here, or its ranks by someone else)."""
    from train.ops import clear_stale_locks

    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"train.output_dir: cannot create {output_dir} ({e.strerror})") from None
    lock = RunLock(output_dir / LOCK_NAME, "training run").acquire()
    if lock.took_over:
        say(f"took over {lock.path} from PID {lock.took_over.get('pid')}, which is no longer running")
    group = stopper = None
    code: int | None = None
    try:
        clear_stale_locks()  # before any rank starts: a rank already waiting on a lock never builds the op
        env = {**os.environ, LOCK_ENV: str(lock.path.resolve())}
        group = ProcessGroup(cmd, env=env, keep_fds=(lock.fd,))
        stopper = Stopper(group, multi_node)
        stopper.install()
        group.start()
        while (code := group.wait(0.5)) is None:
            if stopper.ranks_done():
                break
            if stopper.overdue():
                say(f"the run did not stop within {STOP_GRACE_S:.0f} s: killing it")
                stopper.kill()
    finally:
        if stopper is not None:
            stopper.restore()
        leftovers = group.kill() if group is not None else []
        if not multi_node:  # a rank killed mid-run never unlinked its buffer, nor did a run killed with this command
            if port is not None:
                remove_shm_buffers(port)
            remove_stale_shm_buffers()
        lock.release()
    if leftovers and code == 0:
        say(f"ended {len(leftovers)} process(es) the launcher left behind: {'; '.join(leftovers)}")
    if stopper.signum is not None or code == EXIT_STOPPED:
        signum = stopper.signum or signal.SIGTERM
        raise StopRequested(stop_message(output_dir, stopper.signum, stopper.killed, code), signum)
    return code
