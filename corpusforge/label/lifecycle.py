"""A label run owns its output directory and every process it starts.

- The output lock (OUTPUT/.corpusforge/label.lock): an flock held for the whole run, with the holder's PID,
  host and command in the file. A second run on the same folder is refused with that PID; the lock also marks the
  folder as a label output from the first moment, so a run killed while the model loads reruns as it was.
- The watchdog (corpusforge/label/watchdog.py): a small process that outlives a SIGKILLed command just long
  enough to end everything the run started (vLLM's EngineCore and workers, a local Ray instance, task
  processes), found by a token in their environment; it holds the lock until then.
- Signals: SIGTERM, SIGINT and SIGHUP raise `Stopped` in the main thread, so the normal `finally` blocks close
  the parquet writer, the request cache and the engine; a second signal exits at once (the watchdog cleans up).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from corpusforge.errors import BuildError
from corpusforge.label import watchdog
from corpusforge.label.output import LABEL_MARKER, check_label_directory
from corpusforge.output.dataset_dir import STATE_DIR

LOCK_NAME = LABEL_MARKER
#: a dead holder's watchdog may still be ending its processes: wait this long for the lock before refusing
DEAD_HOLDER_WAIT_S = 15.0

_held: dict[Path, int] = {}  # output dirs whose lock this process holds -> lock fd


class Stopped(BaseException):
    """A stop signal arrived (a BaseException, so no `except Exception` in a backend can swallow it)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def lock_path(output_dir: str | Path) -> Path:
    return Path(output_dir) / STATE_DIR / LOCK_NAME


def _holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
            if not _alive(holder.get("pid")) and time.monotonic() < deadline:
                time.sleep(0.2)  # its command is gone; its watchdog is ending the rest and will let go
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


class RunGuard:
    """What the CLI wraps a label run in: the lock, the watchdog and the stop signals (see the module doc)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

    def __init__(self, output_dir: str | Path):
        self.output_dir = Path(output_dir)
        self.token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.watchdog: subprocess.Popen | None = None
        self._previous: dict[int, object] = {}
        self._stopping = False

    def __enter__(self) -> RunGuard:
        fd = acquire_output_lock(self.output_dir)
        os.environ[watchdog.ENV] = self.token  # before anything is started: every descendant inherits it
        earlier = ""  # what this process had started before the run (in-process callers): never swept
        if os.path.isdir("/proc"):
            earlier = ",".join(map(str, watchdog.descendants(os.getpid(), watchdog.process_table())))
        self.watchdog = subprocess.Popen(
            [sys.executable, "-S", watchdog.__file__, str(os.getpid()), self.token, earlier],
            stdin=subprocess.PIPE,
            pass_fds=(fd,),  # the watchdog shares the lock: it is released when the last process of the run ends
            text=True,
            env={k: v for k, v in os.environ.items() if k != watchdog.ENV},  # and it never sweeps itself
        )
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum: int, _frame) -> None:
        if self._stopping:  # a second signal: stop now, the watchdog ends the rest
            os._exit(128 + signum)
        self._stopping = True
        raise Stopped(signum)

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        if self.watchdog is not None:
            with contextlib.suppress(OSError, ValueError):
                self.watchdog.stdin.write("stop\n")
                self.watchdog.stdin.close()
            try:  # it ends what is left (a lingering engine core), then lets go of the lock
                self.watchdog.wait(timeout=watchdog.GRACE_S + 10)
            except subprocess.TimeoutExpired:
                self.watchdog.kill()
        os.environ.pop(watchdog.ENV, None)
        release_output_lock(self.output_dir)
