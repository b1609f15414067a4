"""A command run owns its output directory and every process it starts: `with SomeGuard(output): ...`.

- The output lock: subclasses take it (`take_lock`, returning its file descriptor) and let it go (`release_lock`);
  both take a RunLock (lock.py here): `corpusforge build` on OUTPUT/.corpusforge/build.lock, `corpusforge label`
  on OUTPUT/.corpusforge/label.lock, which it keeps (corpusforge/label/output_lock.py).
- The sweeper (sweeper.py here): a small process that outlives a SIGKILLed command just long enough to end
  everything the run started (datatrove's pool workers and Manager server, vLLM's EngineCore, a local Ray
  instance, task processes), found through the process tree and a token in their environment. It shares the
  lock's file descriptor, so the lock is free only once nothing of the run is left.
- Signals: SIGTERM, SIGINT and SIGHUP raise `Stopped` in the main thread, so the normal `finally` blocks close
  what is open (a parquet writer, the request cache, an engine, a process pool); a second signal exits at once
  (the sweeper ends the rest).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

from corpusforge.runtime import sweeper


class Stopped(BaseException):
    """A stop signal arrived (a BaseException, so no `except Exception` in a backend can swallow it)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def stop_behind(error: BaseException) -> Stopped | None:
    """The Stopped an error was raised while handling, if any. A stop signal sent to the whole process group (Ctrl-C,
    Slurm's scancel, `pkill -f`) also ends datatrove's Manager process; the `finally` of the task that Stopped
    interrupted then fails on its connection, and that ConnectionResetError replaced the stop."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, Stopped):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


class RunGuard:
    """The lock, the sweeper and the stop signals of one run (see the module doc)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

    def __init__(self, output_dir: str | Path):
        self.output_dir = Path(output_dir)
        self.token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.sweeper: subprocess.Popen | None = None
        self._previous: dict[int, object] = {}
        self._stopping = False

    def take_lock(self) -> int:
        """Take the output's lock (or raise a one-line error naming its holder); returns its file descriptor."""
        raise NotImplementedError

    def release_lock(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> RunGuard:
        fd = self.take_lock()
        os.environ[sweeper.ENV] = self.token  # before anything is started: every descendant inherits it
        earlier = ""  # what this process had started before the run (in-process callers): never swept
        if os.path.isdir("/proc"):
            earlier = ",".join(map(str, sweeper.descendants(os.getpid(), sweeper.process_table())))
        self.sweeper = subprocess.Popen(
            [sys.executable, "-S", sweeper.__file__, str(os.getpid()), self.token, earlier],
            stdin=subprocess.PIPE,
            pass_fds=(fd,),  # the sweeper shares the lock: it is released when the last process of the run ends
            text=True,
            env={k: v for k, v in os.environ.items() if k != sweeper.ENV},  # and it never sweeps itself
        )
        if threading.current_thread() is threading.main_thread():  # elsewhere (a notebook's thread) Python forbids it
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum: int, _frame) -> None:
        if self._stopping:  # a second signal: stop now, the sweeper ends the rest
            os._exit(128 + signum)
        self._stopping = True
        raise Stopped(signum)

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        if self.sweeper is not None:
            with contextlib.suppress(OSError, ValueError):
                self.sweeper.stdin.write("stop\n")
                self.sweeper.stdin.close()
            try:  # it ends what is left (a lingering engine core, a pool worker), then lets go of the lock
                self.sweeper.wait(timeout=sweeper.GRACE_S + 10)
            except subprocess.TimeoutExpired:
                self.sweeper.kill()
        os.environ.pop(sweeper.ENV, None)
        self.release_lock()


@contextlib.contextmanager
def without_run_token() -> Iterator[None]:
    """For submitting Slurm jobs: sbatch exports this environment, and a job that lands on this machine must not
    carry the token, or the sweeper would end it when this command exits."""
    token = os.environ.pop(sweeper.ENV, None)
    try:
        yield
    finally:
        if token is not None:
            os.environ[sweeper.ENV] = token
